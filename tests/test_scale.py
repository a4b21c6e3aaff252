"""Many workers, one shared state: races and cross-worker revocation over real HTTP.

A real server (`jwt-auth-api serve`) with 4 workers on 127.0.0.1, on whatever backends the
environment selects (SQLite + SQL revocations by default; PostgreSQL + Redis
with DATABASE_URL / REDIS_URL). Its 4 workers also ran the start-up migration
concurrently on a fresh database before the first test.
"""

import os
import subprocess
import sys
from collections import Counter

import backends
import pytest
from helpers import PASSWORD
from live import ROOT, call, server, together

pytestmark = pytest.mark.live

WORKERS = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with server(tmp_path_factory.mktemp("cluster") / "instance", workers=WORKERS) as running:
        yield running


def login(base, username):
    status, _, pair = call(
        base, "POST", "/auth/login", {"username": username, "password": PASSWORD}
    )
    assert status == 200, pair
    return pair


def test_same_username_registered_concurrently_once(cluster):
    body = {"username": "race", "password": PASSWORD}
    statuses = Counter(
        status for status, _, _ in together(20, call, cluster.base, "POST", "/auth/register", body)
    )
    assert statuses == {201: 1, 409: 19}


@pytest.mark.parametrize("attempt", range(3))
def test_refresh_token_presented_twice_concurrently_rotates_once(cluster, attempt):
    username = f"rotate{attempt}"
    call(cluster.base, "POST", "/auth/register", {"username": username, "password": PASSWORD})
    pair = login(cluster.base, username)
    results = together(2, call, cluster.base, "POST", "/auth/refresh", None, pair["refresh_token"])
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 401]
    (winner,) = [body for status, _, body in results if status == 200]
    (loser,) = [body for status, _, body in results if status == 401]
    assert "reuse" in loser["detail"]
    # the reuse revoked the whole family, the pair the winner got included
    assert call(cluster.base, "GET", "/protected", token=winner["access_token"])[0] == 401
    assert call(cluster.base, "POST", "/auth/refresh", token=winner["refresh_token"])[0] == 401


def test_logout_is_honoured_by_every_worker_on_its_next_request(cluster):
    call(cluster.base, "POST", "/auth/register", {"username": "leaver", "password": PASSWORD})
    token = login(cluster.base, "leaver")["access_token"]
    assert call(cluster.base, "GET", "/users/me", token=token)[0] == 200
    assert call(cluster.base, "POST", "/auth/logout", token=token)[0] == 204
    # every GET /protected in the log comes after the logout; go on until all workers served one
    statuses = []
    for _ in range(40):
        statuses += [
            s for s, _, _ in together(8, call, cluster.base, "GET", "/protected", None, token)
        ]
        if len({pid for _, pid in cluster.access_lines("GET", "/protected")}) == WORKERS:
            break
    served = cluster.access_lines("GET", "/protected")
    assert len({pid for _, pid in served}) == WORKERS
    assert set(statuses) == {401}
    assert {status for status, _ in served} == {401}


@pytest.mark.skipif(not backends.on_postgres(), reason="the advisory lock is PostgreSQL's")
def test_concurrent_migrations_on_postgresql_from_separate_hosts(tmp_path):
    """Four `flask db upgrade` with separate instance folders (no shared file lock)."""
    with backends.postgres_schema(tag="migrate") as url:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "api", "db", "upgrade"],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": url,
                    "INSTANCE_PATH": str(tmp_path / f"host{n}"),
                    "FLASK_AUTO_MIGRATE": "false",
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for n in range(4)
        ]
        outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
        assert [process.returncode for process in processes] == [0] * 4, outputs
        import psycopg

        with psycopg.connect(backends.libpq(url)) as connection:
            assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
            assert connection.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_access_log_never_holds_tokens(cluster):
    call(cluster.base, "POST", "/auth/register", {"username": "quiet", "password": PASSWORD})
    pair = login(cluster.base, "quiet")
    call(cluster.base, "GET", "/protected", token=pair["access_token"])
    call(cluster.base, "GET", "/protected?access_token=" + pair["access_token"])
    call(cluster.base, "POST", "/auth/refresh", token=pair["refresh_token"])
    # the access log is on (its lines reach the file within a fraction of a second)
    assert cluster.wait_for(lambda: cluster.access_lines("GET", "/protected"))
    log = cluster.log.read_text()
    assert "access_token=" not in log  # paths are logged without their query string
    for token in (pair["access_token"], pair["refresh_token"], PASSWORD):
        assert token not in log
