"""Redis Sentinel failover under traffic: a real gunicorn, a real primary SIGKILLed.

A primary, one replica and three sentinels of the test's own on loopback
ports (``down-after-milliseconds`` 1000); the app is given only the
``redis+sentinel://`` URL. Sessions run from threads while the primary is
killed; the killed server is then restarted as a replica of the new primary,
as its supervisor would. Printed (``pytest -s``): seconds from the kill until
each kind of request succeeds again, and every status seen.
"""

import time

import backends
import pytest
from helpers import PASSWORD, missing_tool
from live import call, server
from traffic import OPERATIONS, Traffic

pytestmark = pytest.mark.live

RECOVERY_TARGET = 10.0  # seconds from the kill until every kind of request works again
THREADS = 4


@pytest.fixture
def sentinel_group(tmp_path):
    if not backends.have_redis_server():
        missing_tool("needs the redis-server binary")
    with backends.RedisSentinelGroup(tmp_path / "redis") as group:
        yield group


def login(base, username):
    body = {"username": username, "password": PASSWORD}
    status, _, pair = call(base, "POST", "/auth/login", body)
    assert status == 200, pair
    return pair


def settled(running, method, path, token, timeout=10.0):
    """``call`` as a client does it: a 503 with ``Retry-After`` is asked again.

    Right after the old primary rejoins, a write can still miss its replica's
    acknowledgement (``WAIT``) and get 503; the store undoes it, so the retry
    is a first use. Each 503 seen is printed with the server's reason.
    """
    deadline = time.monotonic() + timeout
    while True:
        status, headers, body = call(running.base, method, path, token=token)
        if status != 503 or time.monotonic() > deadline:
            return status
        assert headers.get("Retry-After"), body
        reasons = [
            record["message"]
            for record in running.records()
            if record.get("message", "").startswith("backend unavailable")
        ]
        print(f"{method} {path}: 503, retried; last reason: {reasons[-1:]}")
        time.sleep(0.2)


def test_sentinel_failover_under_traffic(tmp_path, sentinel_group):
    # Rate limits stay off here: this test counts sessions and their revocations. A
    # limiter storage error is a 503 like any other Redis error (tests/test_faults.py),
    # and the limiter's Sentinel set-up is tested in tests/test_redisdb.py.
    env = {"REDIS_URL": sentinel_group.url}
    with server(tmp_path / "instance", workers=2, env=env) as running:
        base = running.base
        users = [f"rider{n}" for n in range(THREADS)] + ["keeper", "quitter"]
        for username in users:
            body = {"username": username, "password": PASSWORD}
            assert call(base, "POST", "/auth/register", body)[0] == 201
        quitter = login(base, "quitter")
        assert call(base, "POST", "/auth/logout", token=quitter["access_token"])[0] == 204

        with Traffic(base, users[:THREADS], PASSWORD) as traffic:
            traffic.wait_sessions(THREADS, timeout=60)
            # issued just before the kill: each must be redeemable once after it
            kept = [login(base, "keeper")["refresh_token"] for _ in range(3)]
            old = sentinel_group.primary_port()
            victim = sentinel_group.kill_primary()
            killed_at = time.monotonic()  # requests asked from now on cannot reach it
            primary = sentinel_group.wait_failover(old)
            failed_over = time.monotonic() - killed_at
            sentinel_group.rejoin(victim, primary)
            rejoined = time.monotonic() - killed_at
            traffic.wait_sessions(2 * THREADS, timeout=60)
        recovery = traffic.recovery(killed_at)
        after = traffic.statuses(since=killed_at)

        print(
            f"\nfailover: sentinels named a new primary {failed_over:.2f}s after the kill; "
            f"old primary back as a replica at {rejoined:.2f}s"
        )
        print("first success after the kill (s):", {k: round(v, 2) for k, v in recovery.items()})
        print("answers after the kill:", dict(sorted(after.items())))
        before = sum(revoked.acknowledged < killed_at for revoked in traffic.revoked)
        print(f"revocations acknowledged: {len(traffic.revoked)} ({before} before the kill)")

        assert traffic.bad_answers() == []  # 503 with Retry-After is the only 5xx
        assert traffic.leaks == []
        assert set(recovery) == set(OPERATIONS)
        assert max(recovery.values()) <= RECOVERY_TARGET
        assert sum(count for (_, status), count in after.items() if status == 503) > 0

        # every revocation acknowledged before (or after) the kill still holds
        assert settled(running, "GET", "/protected", quitter["access_token"]) == 401
        assert settled(running, "POST", "/auth/refresh", quitter["refresh_token"]) == 401
        assert before > 0
        for revoked in traffic.revoked:
            assert settled(running, "GET", "/protected", revoked.access_token) == 401
            assert settled(running, "POST", "/auth/refresh", revoked.refresh_token) == 401
        # refresh tokens issued before the kill: redeemable exactly once
        for token in kept:
            assert settled(running, "POST", "/auth/refresh", token) == 200
            assert settled(running, "POST", "/auth/refresh", token) == 401
