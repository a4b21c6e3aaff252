"""The measurements, server by server, in interleaved rounds.

For each server (gunicorn sync, gunicorn gthread, granian) our app runs under
``jwt-auth-api serve`` with that server, next to the seed app and the bare Flask
floor under the same server started directly. The reference, the seed app as
the tutorials deploy it (gunicorn sync), runs throughout. Every round measures
each variant once, in alternating order; ratios are taken within a round and the
medians over rounds are reported. CPU µs/request is the CPU time of a server's
whole process tree over a run divided by the requests the load generator completed.
"""

import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

from . import faults, load, setup
from .issuing import issue_cpu
from .server import KINDS, SYNC, default_kind, has_serve

PROTECTED = "protected"
FIRST_USE = "protected (first use)"
HEALTH = "health"
SEED = "seed"
FLOOR = "floor"
REFERENCE = "reference"
STORES = {"protected (REDIS_URL)": "redis", "protected (PostgreSQL)": "postgres"}


@dataclass
class Options:
    rounds: int
    seconds: float
    connections: int
    servers: list[str] = field(default_factory=lambda: list(KINDS))
    stores: bool = True
    faults: bool = True
    issuing: bool = True


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


def run(workdir, options):
    results = {
        "options": asdict(options),
        "serve": has_serve(),
        "default_server": default_kind(),
        "servers": {},
    }
    log("starting the reference: seed app under gunicorn sync")
    reference = setup.seed_target(workdir, kind=SYNC, name="seed-reference")
    try:
        for kind in options.servers:
            results["servers"][kind] = run_server(workdir, kind, reference, options)
    finally:
        reference.server.stop()
    if options.issuing:
        results["issuing_us"] = issue_cpu(workdir)
    return results


def _fresh_batches(target, options):
    """An endless supply of never-seen token batches, one batch per first-use run."""
    count = int(options.seconds * 6000) + 1000
    while True:
        yield target.fresh_tokens(count)


def run_server(workdir, kind, reference, options):
    log(f"{kind}: starting servers")
    ours = setup.api_target(f"api-{kind}", workdir, kind=kind)
    extra = []
    try:
        seed = setup.seed_target(workdir, kind=kind)
        extra.append(seed)
        fresh = _fresh_batches(ours, options)
        variants = {
            PROTECTED: (ours, "/protected", lambda: {"token": ours.token}),
            FIRST_USE: (ours, "/protected", lambda: {"tokens": next(fresh)}),
            HEALTH: (ours, "/health", dict),
            SEED: (seed, "/protected", lambda: {"token": seed.token}),
            FLOOR: (seed, "/health", dict),
            REFERENCE: (reference, "/protected", lambda: {"token": reference.token}),
        }
        stores = {}
        if options.stores and kind == default_kind():
            stores = _store_targets(workdir, kind)
            extra += stores.values()
            for name, target in stores.items():
                variants[name] = (target, "/protected", lambda t=target: {"token": t.token})
        log(f"{kind}: warm-up")
        short = Options(**{**asdict(options), "seconds": max(1, round(options.seconds / 2))})
        for target, path, kwargs in variants.values():
            measure(target, path, short, **kwargs())
        rounds = []
        for number in range(options.rounds):
            log(f"{kind}: round {number + 1}/{options.rounds}")
            order = list(variants) if number % 2 == 0 else list(reversed(variants))
            measured = {}
            for name in order:
                target, path, kwargs = variants[name]
                measured[name] = measure(target, path, options, **kwargs())
            rounds.append(measured)
        result = {
            "workers": ours.server.workers,
            "threads": ours.server.threads,
            "command": " ".join(ours.server.command[-2:]) if has_serve() else "direct",
            "stores": {name: target.store for name, target in stores.items()},
            "variants": summarise(rounds),
            "rss_mb": round(ours.server.peak_rss_mb(), 1),
            "seed_rss_mb": round(seed.server.peak_rss_mb(), 1),
        }
        result["login"] = login_runs(ours, options)
        result["flood"] = flood(ours, options, result["variants"][PROTECTED])
        result["rss_after_login_mb"] = round(ours.server.peak_rss_mb(), 1)
        result["rss_resident_after_login_mb"] = round(ours.server.rss_mb(), 1)
        if options.faults:
            log(f"{kind}: workers SIGKILLed")
            result["kill"] = faults.kill_workers(ours)
    finally:
        ours.stop()
        for target in extra:
            target.stop()
    if options.faults:
        log(f"{kind}: hung backend")
        result["hung"] = faults.hung_backend(workdir, kind=kind)
    return result


def _store_targets(workdir, kind):
    targets = {}
    redis_url = setup.redis_url()
    if redis_url:
        targets["protected (REDIS_URL)"] = setup.api_target(
            f"redis-{kind}", workdir, kind=kind, redis_url=redis_url
        )
    else:
        log("Redis unreachable: REDIS_URL variant skipped")
    pg_url = setup.postgres_url()
    if pg_url:
        targets["protected (PostgreSQL)"] = setup.api_target(
            f"postgres-{kind}", workdir, kind=kind, database_url=pg_url
        )
    else:
        log("PostgreSQL unreachable: PostgreSQL variant skipped")
    return targets


def _median(values):
    return statistics.median(values)


def summarise(rounds):
    """Medians over rounds of each figure, and of the within-round CPU ratios.

    ``vs_floor``: CPU per request ÷ the bare Flask route's under the same server;
    ``vs_reference``: the reference's CPU per request ÷ this one's (efficiency
    against the seed app under gunicorn sync).
    """
    summary = {}
    for name in rounds[0]:
        runs = [measured[name] for measured in rounds]
        summary[name] = {
            "rps": _median([r["rps"] for r in runs]),
            "p50_ms": _median([r["p50_ms"] for r in runs]),
            "p99_ms": _median([r["p99_ms"] for r in runs]),
            "cpu_us": _median([r["cpu_us"] for r in runs]),
            "vs_floor": _median([m[name]["cpu_us"] / m[FLOOR]["cpu_us"] for m in rounds]),
            "vs_reference": _median([m[REFERENCE]["cpu_us"] / m[name]["cpu_us"] for m in rounds]),
            "rounds": runs,
        }
    return summary


def login_runs(target, options):
    log(f"{target.name}: login throughput")
    body = {"username": setup.FLOOD_USERNAME, "password": setup.PASSWORD}
    runs = [measure(target, "/auth/login", options, body=body) for _ in range(2)]
    return {key: _median([r[key] for r in runs]) for key in runs[0]}


def flood(target, options, idle, pairs=3):
    """/protected latency while a login flood runs, against an idle run just before it.

    ``pairs`` (idle, flood) pairs back to back; the ratio is taken within each pair
    (a stall of the shared machine moves one pair, not the median).
    """
    log(f"{target.name}: login flood")
    body = {"username": setup.FLOOD_USERNAME, "password": setup.PASSWORD}
    seconds = max(2, round(options.seconds * 2))
    protected_url = target.server.base + "/protected"
    runs = []
    for _ in range(pairs):
        quiet = load.run(
            protected_url, seconds=seconds, connections=options.connections, token=target.token
        )
        flood_run = load.Run(
            target.server.base + "/auth/login", seconds=seconds + 1, connections=2, body=body
        )
        time.sleep(0.5)
        busy = load.run(
            protected_url, seconds=seconds, connections=options.connections, token=target.token
        )
        logins = flood_run.result()
        errors = quiet.errors + busy.errors + logins.errors
        if errors:
            raise RuntimeError(f"login flood: {errors} failed responses")
        runs.append((quiet, busy, logins))
    return {
        "p50_ms": _median([busy.p50_ms for _, busy, _ in runs]),
        "p99_ms": _median([busy.p99_ms for _, busy, _ in runs]),
        "rps": _median([busy.rps for _, busy, _ in runs]),
        "idle_p50_ms": _median([quiet.p50_ms for quiet, _, _ in runs]),
        "idle_p99_ms": _median([quiet.p99_ms for quiet, _, _ in runs]),
        "p99_vs_idle": _median([busy.p99_ms / quiet.p99_ms for quiet, busy, _ in runs]),
        "login_rps": _median([logins.rps for _, _, logins in runs]),
        "errors": 0,
    }
