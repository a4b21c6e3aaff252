"""The measurements: interleaved rounds of (variant, /health) pairs, then the rest.

CPU µs/request is the CPU time of the gunicorn workers over a run divided by the
requests wrk completed; efficiency ratios come from it, not from req/s.
"""

import statistics
import sys
import time
from dataclasses import asdict, dataclass

from . import load, setup
from .issuing import issue_cpu

FIRST_USE = "protected (first use)"
FLOOR = "bare Flask route (seed /health)"
PATHS = {FLOOR: "/health"}


@dataclass
class Options:
    workers: int
    rounds: int
    seconds: float
    connections: int


def log(message):
    print(message, file=sys.stderr, flush=True)


def measure(target, path, options, **kwargs):
    """One bounded load run; the server CPU it took per completed request."""
    server = target.server
    before = server.cpu_seconds()
    result = load.run(
        server.base + path, seconds=options.seconds, connections=options.connections, **kwargs
    )
    cpu = server.cpu_seconds() - before
    if result.errors:
        raise RuntimeError(f"{target.name} {path}: {result.errors} failed responses")
    return {**asdict(result), "cpu_us": cpu / max(result.requests, 1) * 1e6}


def _variant_kwargs(variant, target, fresh):
    if variant == FLOOR:
        return {}
    if variant == FIRST_USE:
        return {"tokens": next(fresh)}
    return {"token": target.token}


def run(workdir, options, *, scaling=False):
    targets, variants = start(workdir, options)
    try:
        results = {"options": asdict(options), "variants": {}, "stores": {}}
        base = targets["defaults"]
        for name, target in variants.items():
            results["stores"][name] = target.store
        fresh = _fresh_batches(base, options)
        warm_up(base, variants, options, fresh)
        rounds = {name: [] for name in variants}
        for number in range(options.rounds):
            log(f"round {number + 1}/{options.rounds}")
            for name, target in variants.items():
                kwargs = _variant_kwargs(name, target, fresh)
                path = PATHS.get(name, "/protected")
                pair = [("health", base, "/health", {}), ("variant", target, path, kwargs)]
                if number % 2:
                    pair.reverse()
                measured = {role: measure(t, p, options, **kw) for role, t, p, kw in pair}
                rounds[name].append(measured)
        results["variants"] = summarise(rounds)
        results["rss_mb"] = {n: round(t.server.peak_rss_mb(), 1) for n, t in targets.items()}
        results["login"] = login_runs(base, options)
        results["flood"] = flood(base, options, results["variants"]["protected"])
        results["rss_after_login_mb"] = round(base.server.peak_rss_mb(), 1)
        results["issuing_us"] = issue_cpu(workdir)
    finally:
        for target in targets.values():
            target.server.stop()
    if scaling:
        results["scaling"] = scale(workdir, options)
    return results


def start(workdir, options):
    """Start every server that can run here; the variants measured against /health."""
    log("starting servers")
    defaults = setup.api_target("defaults", workdir, workers=options.workers)
    targets = {"defaults": defaults, "seed": setup.seed_target(workdir, workers=options.workers)}
    variants = {"protected": defaults, FIRST_USE: defaults, "seed": targets["seed"]}
    variants[FLOOR] = targets["seed"]
    redis_url = setup.redis_url()
    if redis_url:
        targets["redis"] = setup.api_target(
            "redis", workdir, workers=options.workers, redis_url=redis_url
        )
        variants["protected (REDIS_URL)"] = targets["redis"]
    else:
        log("Redis unreachable: REDIS_URL variant skipped")
    pg_url = setup.postgres_url()
    if pg_url:
        targets["postgres"] = setup.api_target(
            "postgres", workdir, workers=options.workers, database_url=pg_url
        )
        variants["protected (PostgreSQL)"] = targets["postgres"]
    else:
        log("PostgreSQL unreachable: PostgreSQL variant skipped")
    return targets, variants


def _fresh_batches(target, options):
    """An endless supply of never-seen token batches, one batch per first-use run."""
    count = int(options.seconds * 4000) + 1000
    while True:
        yield target.fresh_tokens(count)


def warm_up(base, variants, options, fresh):
    log("warm-up")
    short = Options(**{**asdict(options), "seconds": max(1, round(options.seconds / 2))})
    measure(base, "/health", short)
    for name, target in variants.items():
        path = PATHS.get(name, "/protected")
        measure(target, path, short, **_variant_kwargs(name, target, fresh))


def _median(values):
    return statistics.median(values)


def summarise(rounds):
    """Median over the rounds of each figure, and of each pair's efficiency ratio."""
    seed = rounds.get("seed")
    summary = {}
    for name, pairs in rounds.items():
        variant = [pair["variant"] for pair in pairs]
        efficiency = [pair["health"]["cpu_us"] / pair["variant"]["cpu_us"] for pair in pairs]
        entry = {
            "rps": _median([v["rps"] for v in variant]),
            "p50_ms": _median([v["p50_ms"] for v in variant]),
            "p99_ms": _median([v["p99_ms"] for v in variant]),
            "cpu_us": _median([v["cpu_us"] for v in variant]),
            "health_cpu_us": _median([pair["health"]["cpu_us"] for pair in pairs]),
            "health_rps": _median([pair["health"]["rps"] for pair in pairs]),
            "vs_health": _median(efficiency),
            "rounds": pairs,
        }
        if seed:
            seed_eff = [p["health"]["cpu_us"] / p["variant"]["cpu_us"] for p in seed]
            entry["vs_seed"] = _median([e / s for e, s in zip(efficiency, seed_eff, strict=True)])
        summary[name] = entry
    return summary


def login_runs(base, options):
    log("login throughput")
    body = {"username": setup.USERNAME, "password": setup.PASSWORD}
    runs = [measure(base, "/auth/login", options, body=body) for _ in range(2)]
    return {key: _median([r[key] for r in runs]) for key in runs[0]}


def flood(base, options, idle):
    """/protected latency while a login flood runs on the same server."""
    log("login flood")
    body = {"username": setup.USERNAME, "password": setup.PASSWORD}
    seconds = round(options.seconds * 2)
    flood_run = load.Run(base.server.base + "/auth/login", seconds=seconds + 1, connections=2,
                         body=body)  # fmt: skip
    time.sleep(0.5)
    protected = load.run(
        base.server.base + "/protected",
        seconds=seconds,
        connections=options.connections,
        token=base.token,
    )
    logins = flood_run.result()
    return {
        "p50_ms": protected.p50_ms,
        "p99_ms": protected.p99_ms,
        "rps": protected.rps,
        "idle_p99_ms": idle["p99_ms"],
        "p99_vs_idle": protected.p99_ms / idle["p99_ms"],
        "login_rps": logins.rps,
        "errors": protected.errors + logins.errors,
    }


def scale(workdir, options):
    """req/s and CPU µs/request of /health and /protected at 1, 2 and 4 workers."""
    rows = {}
    for workers in (1, 2, 4):
        log(f"scaling: {workers} workers")
        target = setup.api_target(f"scale{workers}", workdir, workers=workers)
        try:
            conn = Options(**{**asdict(options), "connections": max(4, 2 * workers)})
            measure(target, "/health", conn)
            health = measure(target, "/health", conn)
            protected = measure(target, "/protected", conn, token=target.token)
            rows[workers] = {"health": health, "protected": protected}
        finally:
            target.server.stop()
    return rows
