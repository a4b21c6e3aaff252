"""Second factor against a real 2-worker gunicorn: a code or recovery code wins once."""

import time

import pyotp
import pytest
from helpers import PASSWORD
from live import call, server, together

pytestmark = pytest.mark.live

THREADS = 4


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with server(tmp_path_factory.mktemp("mfa-live") / "instance", workers=2) as running:
        yield running.base


def enrolled(base, username):
    """Register ``username`` and turn TOTP on; answers its secret, recovery codes and step."""
    assert (
        call(base, "POST", "/auth/register", {"username": username, "password": PASSWORD})[0] == 201
    )
    login = {"username": username, "password": PASSWORD}
    token = call(base, "POST", "/auth/login", login)[2]["access_token"]
    status, _, body = call(base, "POST", "/users/me/mfa/totp", {"password": PASSWORD}, token)
    assert status == 201, body
    totp = pyotp.TOTP(body["secret"])
    step = int(time.time() // 30)
    status, _, body = call(
        base, "POST", "/users/me/mfa/totp/confirm", {"code": totp.generate_otp(step)}, token
    )
    assert status == 200, body
    return totp, body["recovery_codes"], step


def mfa_tokens(base, username, count):
    login = {"username": username, "password": PASSWORD}
    tokens = []
    for _ in range(count):
        status, _, body = call(base, "POST", "/auth/login", login)
        assert status == 200 and body["mfa_required"] is True, body
        tokens.append(body["mfa_token"])
    return tokens


def race(base, username, factor):
    """THREADS logins, then the same second factor sent for all of them at one instant."""
    queue = [{"mfa_token": token, **factor} for token in mfa_tokens(base, username, THREADS)]

    def send():
        return call(base, "POST", "/auth/mfa", queue.pop())[0]

    return sorted(together(THREADS, send))


def test_the_same_code_sent_concurrently_wins_once(base):
    totp, _, step = enrolled(base, "race_code")
    # the next step's code (one step of skew): the confirming code's step is spent
    statuses = race(base, "race_code", {"code": totp.generate_otp(step + 1)})
    assert statuses == [200] + [401] * (THREADS - 1)


def test_the_same_recovery_code_sent_concurrently_wins_once(base):
    _, codes, _ = enrolled(base, "race_recovery")
    for code in codes[:3]:
        statuses = race(base, "race_recovery", {"recovery_code": code})
        assert statuses == [200] + [401] * (THREADS - 1)


def test_one_mfa_token_sent_concurrently_wins_once(base):
    _, codes, _ = enrolled(base, "race_token")
    (mfa_token,) = mfa_tokens(base, "race_token", 1)
    bodies = [{"mfa_token": mfa_token, "recovery_code": code} for code in codes[:THREADS]]

    def send():
        return call(base, "POST", "/auth/mfa", bodies.pop())[0]

    assert sorted(together(THREADS, send)) == [200] + [401] * (THREADS - 1)
