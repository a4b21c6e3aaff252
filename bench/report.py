"""The tables printed at the end of a run: every server side by side."""

# for the default server (issue 11): /protected within 1.4x the bare Flask route's CPU,
# at least 1.8x the seed app's efficiency (seed under gunicorn sync), p99 during a
# login flood at most 2x idle p99, peak RSS per worker at most 75 MB
MAX_VS_FLOOR = 1.4
MIN_VS_SEED = 1.8
MAX_FLOOD = 2.0
MAX_RSS_MB = 75

LABELS = {
    "protected": "/protected (seen token)",
    "protected (first use)": "/protected (first use)",
    "health": "our /health",
    "seed": "seed app /protected",
    "floor": "bare Flask route",
    "reference": "seed app, gunicorn sync",
    "protected (REDIS_URL)": "/protected, REDIS_URL",
    "protected (PostgreSQL)": "/protected, PostgreSQL",
}


def _met(ok):
    return "met" if ok else "NOT met"


def _kill(row):
    kill = row.get("kill")
    if not kill:
        return "-"
    return f"{kill['serving_s']:.1f} s" if kill["serving_s"] is not None else "not in 60 s"


def _hung(row):
    hung = row.get("hung")
    if not hung:
        return "-"
    if "skipped" in hung:
        return "skipped"
    status = hung["status"] or "no answer"
    return f"{status} in {hung['seconds']:.1f} s" + ("" if hung["recovered"] else ", not recovered")


def table(results):
    servers = results["servers"]
    options = results["options"]
    default = results["default_server"]
    how = "`jwt-auth-api serve`" if results["serve"] else "direct server commands"
    lines = [
        f"our app under {how} (its defaults per server); {options['connections']} connections, "
        f"{results['generator']}, {options['rounds']} rounds x {options['seconds']}s, "
        "medians over rounds; ratios within a round",
        "",
        "| server | workers x threads | /protected µs | first use µs | /health µs | bare Flask µs "
        "| seed µs | /protected ÷ bare | vs seed (sync) | idle p50 / p99 ms | flood p99 ms "
        "| peak RSS/worker MB | SIGKILLed workers serving again | request on a hung Redis |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for kind, row in servers.items():
        v = row["variants"]
        protected, flood = v["protected"], row["flood"]
        name = f"**{kind}** (default)" if kind == default else kind
        lines.append(
            f"| {name} | {row['workers']} x {row['threads']} | {protected['cpu_us']:.0f} "
            f"| {v['protected (first use)']['cpu_us']:.0f} | {v['health']['cpu_us']:.0f} "
            f"| {v['floor']['cpu_us']:.0f} | {v['seed']['cpu_us']:.0f} "
            f"| {protected['vs_floor']:.2f}x | {protected['vs_reference']:.2f}x "
            f"| {flood['idle_p50_ms']:.2f} / {flood['idle_p99_ms']:.2f} "
            f"| {flood['p99_ms']:.2f} ({flood['p99_vs_idle']:.1f}x) "
            f"| {row['rss_mb']:.0f} ({row['rss_after_login_mb']:.0f} in logins, "
            f"{row.get('rss_resident_after_login_mb', 0):.0f} resident after) "
            f"| {_kill(row)} | {_hung(row)} |"
        )
    if default in servers:
        row = servers[default]
        protected = row["variants"]["protected"]
        lines += [
            "",
            f"targets for the default server ({default}): "
            f"/protected ÷ bare Flask {protected['vs_floor']:.2f}x "
            f"(≤ {MAX_VS_FLOOR}x: {_met(protected['vs_floor'] <= MAX_VS_FLOOR)}); "
            f"vs seed under gunicorn sync {protected['vs_reference']:.2f}x "
            f"(≥ {MIN_VS_SEED}x: {_met(protected['vs_reference'] >= MIN_VS_SEED)}); "
            f"flood p99 {row['flood']['p99_vs_idle']:.2f}x idle "
            f"(≤ {MAX_FLOOD}x: {_met(row['flood']['p99_vs_idle'] <= MAX_FLOOD)}); "
            f"peak RSS per worker {row['rss_mb']:.0f} MB "
            f"(≤ {MAX_RSS_MB}: {_met(row['rss_mb'] <= MAX_RSS_MB)})",
        ]
    lines += ["", "| server | variant | req/s | p50 ms | p99 ms | CPU µs/req | ÷ bare Flask |"]
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for kind, row in servers.items():
        for name, v in row["variants"].items():
            lines.append(
                f"| {kind} | {LABELS.get(name, name)} | {v['rps']:.0f} | {v['p50_ms']:.2f} "
                f"| {v['p99_ms']:.2f} | {v['cpu_us']:.0f} | {v['vs_floor']:.2f}x |"
            )
    lines.append("")
    for kind, row in servers.items():
        login, flood = row["login"], row["flood"]
        lines.append(
            f"{kind}: POST /auth/login {login['rps']:.1f} req/s, p99 {login['p99_ms']:.0f} ms, "
            f"{login['cpu_us'] / 1e3:.1f} ms CPU/login; /protected during a login flood "
            f"({flood['login_rps']:.1f} logins/s): p50 {flood['p50_ms']:.2f} ms, "
            f"p99 {flood['p99_ms']:.2f} ms"
        )
    issuing = results.get("issuing_us")
    if issuing:
        lines.append(
            "token pair issuing CPU, µs (no password hash), signing only / with the refresh "
            "record committed: "
            + ", ".join(
                f"{alg} {us['signing_us']:.0f} / {us['stored_us']:.0f}"
                for alg, us in issuing.items()
            )
        )
    return "\n".join(lines)
