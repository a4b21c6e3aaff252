"""PostgreSQL restarted, or turned read-only, under traffic: 503s while it lasts, then
recovery without restarting the service.

A PostgreSQL cluster of the test's own (initdb, on a free loopback port), so
restarting it or altering its database disturbs nothing else; a real gunicorn
with 2 workers keeps the token state in the same database (no Redis), so the
per-thread revocation look-up connections (api/tokens/lookup.py) go through
the faults too. Printed (``pytest -s``): recovery times and every status seen.
"""

import time

import backends
import pytest
from helpers import PASSWORD, missing_tool
from live import call, server
from traffic import OPERATIONS, Traffic

pytestmark = pytest.mark.live

THREADS = 4
USERS = [f"user{n}" for n in range(THREADS)]
RECOVERY_TARGET = 10.0
DATABASE = "app"


@pytest.fixture(scope="module")
def postgres():
    if backends.postgres_bin() is None:
        missing_tool("needs PostgreSQL's initdb")
    with backends.PostgresServer() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def running(tmp_path_factory, postgres):
    """gunicorn on a database of the cluster's own, shared by the tests (one start-up)."""
    postgres.execute(f"CREATE DATABASE {DATABASE}")
    env = {"DATABASE_URL": postgres.url(DATABASE), "REDIS_URL": ""}  # token state there too
    with server(tmp_path_factory.mktemp("pg") / "instance", workers=2, env=env) as running:
        for username in USERS:
            body = {"username": username, "password": PASSWORD}
            assert call(running.base, "POST", "/auth/register", body)[0] == 201
        yield running


def check(traffic, since, label):
    recovery = traffic.recovery(since)
    after = traffic.statuses(since=since)
    print(f"\n{label}: first success after it (s):", {k: round(v, 2) for k, v in recovery.items()})
    print(f"{label}: answers after it:", dict(sorted(after.items())))
    assert traffic.bad_answers() == []  # 503 with Retry-After is the only 5xx
    assert traffic.leaks == []
    assert set(recovery) == set(OPERATIONS)
    assert max(recovery.values()) <= RECOVERY_TARGET
    return after


def refused_logins(traffic, since):
    return sum(
        count
        for (operation, status), count in traffic.statuses(since=since).items()
        if operation == "login" and status != 200
    )


def still_revoked(base, traffic):
    for revoked in traffic.revoked:
        assert call(base, "GET", "/protected", token=revoked.access_token)[0] == 401
        assert call(base, "POST", "/auth/refresh", token=revoked.refresh_token)[0] == 401


def test_restart_under_traffic(running, postgres):
    with Traffic(running.base, USERS, PASSWORD) as traffic:
        traffic.wait_sessions(THREADS, timeout=60)
        started = time.monotonic()
        postgres.restart()
        print(f"\nrestart took {time.monotonic() - started:.2f}s")
        traffic.wait_sessions(2 * THREADS, timeout=60)
    check(traffic, started, "restart")
    still_revoked(running.base, traffic)


def test_primary_turned_read_only_under_traffic(running, postgres):
    with Traffic(running.base, USERS, PASSWORD) as traffic:
        traffic.wait_sessions(THREADS, timeout=60)
        body = {"username": USERS[0], "password": PASSWORD}
        token = call(running.base, "POST", "/auth/login", body)[2]["access_token"]
        # as when a primary is demoted: sessions end, new ones are read-only
        turned = time.monotonic()
        postgres.execute(f"ALTER DATABASE {DATABASE} SET default_transaction_read_only = on")
        postgres.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (DATABASE,),
        )
        backends.wait_until(
            lambda: refused_logins(traffic, turned) >= THREADS, 30, "logins refused while read-only"
        )
        read_only = traffic.statuses(since=turned)
        assert traffic.bad_answers() == []  # 503, not 500
        # reads, revocation checks included, keep working
        assert call(running.base, "GET", "/protected", token=token)[0] == 200
        # writable again; the connections opened meanwhile are still read-only
        back = time.monotonic()
        postgres.execute(f"ALTER DATABASE {DATABASE} RESET default_transaction_read_only")
        traffic.wait_sessions(2 * THREADS, timeout=60)
    print("\nwhile read-only:", dict(sorted(read_only.items())))
    check(traffic, back, "read-only ended")
    still_revoked(running.base, traffic)
