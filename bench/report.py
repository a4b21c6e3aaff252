"""The one table printed at the end of a run."""

TARGETS = {
    "protected": 0.80,
    "protected (REDIS_URL)": 0.70,
    "protected (first use)": 0.55,
}


def table(results):
    lines = [
        f"gunicorn sync x{results['options']['workers']} workers, "
        f"{results['options']['connections']} connections, {results['generator']}, "
        f"{results['options']['rounds']} rounds x {results['options']['seconds']}s; "
        "medians over rounds",
        "",
        "| variant | store | req/s | p50 ms | p99 ms | CPU µs/req | /health CPU µs/req "
        "| vs /health | vs seed | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in results["variants"].items():
        goal = TARGETS.get(name)
        verdict = ""
        if goal:
            verdict = f"≥ {goal:.2f}x {'met' if row['vs_health'] >= goal else 'NOT met'}"
            if name == "protected":
                met = row.get("vs_seed", 0) >= 1.5
                verdict += f"; ≥ 1.5x seed {'met' if met else 'NOT met'}"
        lines.append(
            f"| {name} | {results['stores'].get(name, '')} | {row['rps']:.0f} "
            f"| {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['cpu_us']:.0f} "
            f"| {row['health_cpu_us']:.0f} | {row['vs_health']:.2f}x "
            f"| {row.get('vs_seed', 1.0):.2f}x | {verdict} |"
        )
    login, flood = results["login"], results["flood"]
    lines += [
        "",
        f"POST /auth/login: {login['rps']:.1f} req/s, p50 {login['p50_ms']:.1f} ms, "
        f"p99 {login['p99_ms']:.1f} ms, {login['cpu_us'] / 1e3:.1f} ms CPU/login",
        f"GET /protected under a login flood ({flood['login_rps']:.1f} logins/s): "
        f"p50 {flood['p50_ms']:.2f} ms, p99 {flood['p99_ms']:.2f} ms = "
        f"{flood['p99_vs_idle']:.1f}x idle p99 {flood['idle_p99_ms']:.2f} ms "
        f"(target < 2x: {'met' if flood['p99_vs_idle'] < 2 else 'NOT met'})",
        "peak RSS per worker, MB, after the /protected rounds: "
        + ", ".join(f"{name} {mb:.1f}" for name, mb in results["rss_mb"].items())
        + f" (target < 60: {'met' if max(results['rss_mb'].values()) < 60 else 'NOT met'}); "
        f"after the logins (argon2 memory cost included): {results['rss_after_login_mb']:.1f}",
        "token pair issuing CPU, µs (no password hash), signing only / with the refresh "
        "record committed: "
        + ", ".join(
            f"{alg} {us['signing_us']:.0f} / {us['stored_us']:.0f}"
            for alg, us in results["issuing_us"].items()
        )
        + f" (target < 1000 µs: {_verdict(results['issuing_us'])})",
    ]
    if results.get("scaling"):
        lines += ["", "| workers | /health req/s | /protected req/s | /protected CPU µs/req |"]
        lines.append("|---:|---:|---:|---:|")
        for workers, row in results["scaling"].items():
            lines.append(
                f"| {workers} | {row['health']['rps']:.0f} | {row['protected']['rps']:.0f} "
                f"| {row['protected']['cpu_us']:.0f} |"
            )
    return "\n".join(lines)


def _verdict(issuing):
    signing = max(us["signing_us"] for us in issuing.values())
    stored = max(us["stored_us"] for us in issuing.values())
    if stored < 1000:
        return "met"
    if signing < 1000:
        return "met for signing; NOT met with the SQLite commit"
    return "NOT met"
