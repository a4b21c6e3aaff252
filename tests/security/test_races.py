"""Sessions cannot outlive a password change or a deletion, whatever the timing.

A real server with 2 workers (granian, the default of ``serve``, and gunicorn sync,
as the attack that found the race used), on the SQL and on the Redis token store. Each
round starts logins with the old password at staggered moments around a
password change (or an admin's deletion of the user) on the other worker;
afterwards no token any of those logins got may still work, and nothing
answers 5xx. The delays spread the logins over the whole window in which a
login can verify the old password before the change commits and store its
session after it (about one argon2 hash each way).
"""

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack

import backends
import pytest
import redis
from live import ROOT, call, server

pytestmark = pytest.mark.live

ROUNDS = 10
LOGINS_PER_ROUND = 3
OLD, NEW = "old password 123", "new password 456"


@pytest.fixture(
    scope="module",
    params=[
        ("sql", "granian"),
        ("redis", "granian"),
        ("sql", "gunicorn-sync"),
        ("redis", "gunicorn-sync"),
    ],
    ids="-".join,
)
def racing(request, tmp_path_factory):
    """A 2-worker server on one token store, and an admin's access token."""
    store, server_kind = request.param
    with ExitStack() as stack:
        env = {"REDIS_URL": "", "SERVER": server_kind}
        if backends.on_postgres():
            env["DATABASE_URL"] = stack.enter_context(backends.postgres_schema(tag="race"))
        if store == "redis":
            env["REDIS_URL"] = request.getfixturevalue("redis_url")
            env["FLASK_REDIS_KEY_PREFIX"] = prefix = backends.redis_prefix("race")
            client = stack.enter_context(redis.Redis.from_url(env["REDIS_URL"]))
            stack.callback(backends.delete_prefixed, prefix, client)
        instance = tmp_path_factory.mktemp(f"race-{store}-{server_kind}") / "instance"
        running = stack.enter_context(server(instance, workers=2, env=env))
        made = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "api", "users", "create", "root", "--admin"],
            input=f"{OLD}\n",
            text=True,
            cwd=ROOT,
            env={**os.environ, "INSTANCE_PATH": str(instance), **env},
            capture_output=True,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        yield running.base, _login(running.base, "root", OLD)["access_token"]


def _login(base, username, password):
    status, _, body = call(
        base, "POST", "/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    return body


def _register(base):
    username = f"u{uuid.uuid4().hex[:10]}"
    status, _, body = call(base, "POST", "/auth/register", {"username": username, "password": OLD})
    assert status == 201, body
    return username, body["id"]


def _race(base, change, username, delays, change_delay=0.0):
    """Run ``change()`` after ``change_delay`` and logins with the old password after
    ``delays``; return the change's status, the logins' statuses and their pairs."""
    barrier = threading.Barrier(len(delays) + 1)
    results = [None] * len(delays)

    def login(index, delay):
        barrier.wait()
        time.sleep(delay)
        results[index] = call(base, "POST", "/auth/login", {"username": username, "password": OLD})

    threads = [threading.Thread(target=login, args=item) for item in enumerate(delays)]
    for thread in threads:
        thread.start()
    barrier.wait()
    time.sleep(change_delay)
    change_status = change()
    for thread in threads:
        thread.join()
    return (
        change_status,
        [status for status, _, _ in results],
        [body for status, _, body in results if status == 200],
    )


def _still_works(base, pair):
    """Whether any token of the pair is still accepted (a surviving session)."""
    protected, _, _ = call(base, "GET", "/protected", token=pair["access_token"])
    refreshed, _, _ = call(base, "POST", "/auth/refresh", token=pair["refresh_token"])
    return protected == 200 or refreshed == 200


def _delays(round_number, spread=0.25):
    rng = random.Random(round_number)
    return [rng.uniform(0, spread) for _ in range(LOGINS_PER_ROUND)]


def _report(what, statuses, issued, surviving):
    print(f"{what}: {issued} sessions issued in {ROUNDS} rounds, {surviving} surviving, {statuses}")


def test_a_login_racing_a_password_change_keeps_no_session(racing):
    base, _ = racing
    statuses, issued, surviving = Counter(), 0, 0
    for round_number in range(ROUNDS):
        username, _ = _register(base)
        owner = _login(base, username, OLD)

        def change(token=owner["access_token"]):
            body = {"current_password": OLD, "new_password": NEW}
            return call(base, "PUT", "/users/me/password", body, token=token)[0]

        changed, logins, pairs = _race(base, change, username, _delays(round_number))
        statuses.update([changed, *logins])
        assert changed == 204
        issued += len(pairs)
        surviving += sum(_still_works(base, pair) for pair in pairs)
        # the session that changed the password is the one that lives on
        assert call(base, "GET", "/protected", token=owner["access_token"])[0] == 200
    _report("password change", statuses, issued, surviving)
    assert not [status for status in statuses if status >= 500]
    assert surviving == 0


def test_a_login_racing_the_users_deletion_keeps_no_session(racing):
    base, admin = racing
    statuses, issued, surviving = Counter(), 0, 0
    for round_number in range(ROUNDS):
        username, user_id = _register(base)

        def delete(user_id=user_id):
            return call(base, "DELETE", f"/users/{user_id}", token=admin)[0]

        # a deletion hashes nothing: it starts while the logins are verifying
        delays = _delays(round_number, spread=0.1)
        deleted, logins, pairs = _race(base, delete, username, delays, 0.02 + round_number / 100)
        statuses.update([deleted, *logins])
        assert deleted == 204
        issued += len(pairs)
        surviving += sum(_still_works(base, pair) for pair in pairs)
    _report("deletion", statuses, issued, surviving)
    assert not [status for status in statuses if status >= 500]
    assert surviving == 0
