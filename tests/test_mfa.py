"""Two-factor authentication: enrolment, codes against a frozen clock, recovery codes."""

import json
import logging

import pyotp
import pytest
from helpers import PASSWORD, assert_challenge, assert_problem, bearer

from api.core.extensions import db
from api.mfa import crypto
from api.mfa.models import RecoveryCode, TotpFactor

T0 = 1_800_000_000.0  # a frozen "now", at the start of an RFC 6238 step (T0 % 30 == 0)


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    frozen = Clock()
    app.extensions["mfa_clock"] = frozen
    return frozen


def code_at(secret, when, steps=0):
    """The code an authenticator app shows at ``when`` (plus ``steps`` steps)."""
    return pyotp.TOTP(secret).at(when + 30 * steps)


def call(api, method, path, token=None, body=None):
    return api.client.open(path, method=method, headers=bearer(token), json=body)


def enrol(api, token, password=PASSWORD):
    return call(api, "POST", "/users/me/mfa/totp", token, {"password": password})


def confirm(api, token, code):
    return call(api, "POST", "/users/me/mfa/totp/confirm", token, {"code": code})


@pytest.fixture
def enabled(api, clock):
    """alice with TOTP on: her (fresh) pair, secret and recovery codes; the clock moved on."""
    pair = api.tokens()
    secret = enrol(api, pair["access_token"]).json["secret"]
    codes = confirm(api, pair["access_token"], code_at(secret, clock.now)).json["recovery_codes"]
    clock.now += 30  # the next step: the confirming code is spent
    return {"pair": pair, "secret": secret, "codes": codes}


# --- enrolment ----------------------------------------------------------------------------


def test_enrolment_answers_a_secret_and_an_otpauth_uri(api, clock):
    token = api.tokens()["access_token"]
    response = enrol(api, token)
    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    secret = response.json["secret"]
    assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    parsed = pyotp.parse_uri(response.json["otpauth_uri"])
    assert (parsed.secret, parsed.name, parsed.issuer) == (secret, "alice", "JWT Auth API")
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    # pending: login still answers a pair, /users/me says off
    assert "access_token" in api.login().json
    assert api.get("/users/me", token).json["mfa_enabled"] is False


@pytest.mark.parametrize("case", ["wrong password", "not fresh", "no token", "refresh token"])
def test_enrolment_needs_a_fresh_token_and_the_password(api, client, clock, case):
    pair = api.tokens()
    token, password = pair["access_token"], PASSWORD
    if case == "wrong password":
        password = "x" * 12
    elif case == "not fresh":
        token = client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).json[
            "access_token"
        ]
    elif case == "no token":
        token = None
    else:
        token = pair["refresh_token"]
    assert_challenge(
        enrol(api, token, password), token_given=case in ("not fresh", "refresh token")
    )


def test_confirm_turns_it_on_and_answers_ten_recovery_codes(api, app, clock):
    token = api.tokens()["access_token"]
    secret = enrol(api, token).json["secret"]
    response = confirm(api, token, code_at(secret, clock.now))
    assert response.status_code == 200, response.json
    codes = response.json["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert api.get("/users/me", token).json["mfa_enabled"] is True
    with app.app_context():
        stored = db.session.scalars(db.select(RecoveryCode.digest)).all()
        factor = db.session.get(TotpFactor, 1)
    assert len(stored) == 10 and not any(code.replace("-", "") in stored for code in codes)
    assert secret not in factor.secret  # encrypted at rest


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_one_step_of_skew_each_way(api, clock, steps):
    token = api.tokens()["access_token"]
    secret = enrol(api, token).json["secret"]
    assert confirm(api, token, code_at(secret, clock.now, steps)).status_code == 200


@pytest.mark.parametrize("steps", [-3, -2, 2, 3])
def test_codes_outside_the_window_are_refused(api, clock, steps):
    token = api.tokens()["access_token"]
    secret = enrol(api, token).json["secret"]
    assert_challenge(confirm(api, token, code_at(secret, clock.now, steps)), token_given=False)
    assert api.get("/users/me", token).json["mfa_enabled"] is False


@pytest.mark.parametrize("code", ["000000", "12345", "1234567", "abcdef", "", " 123456"])
def test_malformed_or_wrong_codes(api, clock, code):
    token = api.tokens()["access_token"]
    secret = enrol(api, token).json["secret"]
    real = code_at(secret, clock.now)
    if code == real:  # a well-formed code that is wrong: the next one round the dial
        code = f"{(int(real) + 1) % 10**6:06d}"
    response = confirm(api, token, code)
    assert response.status_code in (401, 422)
    assert response.mimetype == "application/problem+json"


def test_confirm_without_pending_enrolment_is_a_conflict(api, enabled, clock):
    token = enabled["pair"]["access_token"]
    assert_problem(confirm(api, token, code_at(enabled["secret"], clock.now)), 409)
    assert_problem(enrol(api, token), 409)  # already on: turn it off first


def test_a_new_enrolment_replaces_a_pending_secret(api, clock):
    token = api.tokens()["access_token"]
    old = enrol(api, token).json["secret"]
    new = enrol(api, token).json["secret"]
    assert old != new
    assert_challenge(confirm(api, token, code_at(old, clock.now)), token_given=False)
    assert confirm(api, token, code_at(new, clock.now)).status_code == 200


def test_a_code_is_accepted_once(api, enabled, clock):
    token = enabled["pair"]["access_token"]
    code = code_at(enabled["secret"], clock.now)
    path = "/users/me/mfa/recovery-codes"
    assert call(api, "POST", path, token, {"code": code}).status_code == 200
    assert_challenge(call(api, "POST", path, token, {"code": code}), token_given=False)
    # nor an earlier step's code once a later one was used
    earlier = code_at(enabled["secret"], clock.now, -1)
    assert_challenge(call(api, "POST", path, token, {"code": earlier}), token_given=False)
    assert (
        call(
            api, "POST", path, token, {"code": code_at(enabled["secret"], clock.now, 1)}
        ).status_code
        == 200
    )


def test_regenerated_recovery_codes_replace_the_old_ones(api, enabled, clock):
    token = enabled["pair"]["access_token"]
    response = call(
        api,
        "POST",
        "/users/me/mfa/recovery-codes",
        token,
        {"code": code_at(enabled["secret"], clock.now)},
    )
    assert response.status_code == 200
    new = response.json["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(enabled["codes"])
    clock.now += 30
    old = {"recovery_code": enabled["codes"][0]}
    assert_challenge(call(api, "DELETE", "/users/me/mfa/totp", token, old), token_given=False)
    assert (
        call(api, "DELETE", "/users/me/mfa/totp", token, {"recovery_code": new[0]}).status_code
        == 204
    )


@pytest.mark.parametrize("how", ["code", "recovery_code"])
def test_disable_ends_every_other_session(api, enabled, clock, how):
    token = enabled["pair"]["access_token"]
    other = api.client.post(
        "/auth/mfa",
        json={"mfa_token": api.login().json["mfa_token"], "recovery_code": enabled["codes"][1]},
    ).json
    proof = code_at(enabled["secret"], clock.now) if how == "code" else enabled["codes"][0]
    response = call(api, "DELETE", "/users/me/mfa/totp", token, {how: proof})
    assert response.status_code == 204, response.json
    assert api.get("/users/me", token).json["mfa_enabled"] is False
    assert_challenge(api.get("/protected", other["access_token"]))
    assert api.login().json["token_type"] == "Bearer"  # a password alone logs in again


@pytest.mark.parametrize(
    "body",
    [{}, {"code": "123456", "recovery_code": "abcde-fghjk"}, {"code": "123456", "x": 1}, []],
)
def test_exactly_one_second_factor(api, enabled, body):
    response = call(api, "DELETE", "/users/me/mfa/totp", enabled["pair"]["access_token"], body)
    assert_problem(response, 422)


def test_operations_need_it_on(api, clock):
    token = api.tokens()["access_token"]
    assert_problem(call(api, "DELETE", "/users/me/mfa/totp", token, {"code": "123456"}), 409)
    assert_problem(
        call(api, "POST", "/users/me/mfa/recovery-codes", token, {"code": "123456"}), 409
    )


def test_attempts_are_limited_per_user(api, app, enabled, clock):
    app.config["MFA_MAX_FAILURES"] = 3
    token = enabled["pair"]["access_token"]
    secret = enabled["secret"]
    wrong = "000000" if code_at(secret, clock.now) != "000000" else "111111"
    path = "/users/me/mfa/recovery-codes"
    for _ in range(3):
        assert_challenge(call(api, "POST", path, token, {"code": wrong}), token_given=False)
    locked = call(api, "POST", path, token, {"code": code_at(secret, clock.now)})
    assert_problem(locked, 429)
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    clock.now += 901  # the window ends: a right code works again and resets the count
    assert call(api, "POST", path, token, {"code": code_at(secret, clock.now)}).status_code == 200


def test_the_secret_does_not_open_without_the_key(api, app, enabled):
    with app.app_context():
        sealed = db.session.get(TotpFactor, 1).secret
        assert crypto.keys().open(sealed, 1) == enabled["secret"]
        with pytest.raises(crypto.SecretUnreadable):
            crypto.MfaKeys(b"k" * 48).open(sealed, 1)  # another key
        with pytest.raises(crypto.SecretUnreadable):
            crypto.keys().open(sealed, 2)  # copied onto another user's row


def test_events_are_audited(api, clock, caplog):
    caplog.set_level(logging.INFO, logger="api.audit")
    token = api.tokens()["access_token"]
    enrol(api, token, "x" * 12)
    secret = enrol(api, token).json["secret"]
    codes = confirm(api, token, code_at(secret, clock.now)).json["recovery_codes"]
    path = "/users/me/mfa/recovery-codes"
    call(api, "POST", path, token, {"code": code_at(secret, clock.now)})  # replayed
    call(api, "POST", path, token, {"code": code_at(secret, clock.now, 1)})
    mfa_token = api.login().json["mfa_token"]
    api.client.post("/auth/mfa", json={"mfa_token": mfa_token, "recovery_code": codes[0]})
    new = api.client.post("/auth/mfa", json={"mfa_token": api.login().json["mfa_token"],
                                              "code": code_at(secret, clock.now, 1)})  # fmt: skip
    assert new.status_code == 401
    call(api, "DELETE", "/users/me/mfa/totp", token, {"code": code_at(secret, clock.now, -1)})
    clock.now += 60
    call(api, "DELETE", "/users/me/mfa/totp", token, {"code": code_at(secret, clock.now)})
    events = [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "api.audit"]
    assert [event for event in events if event.startswith(("mfa.", "login."))] == [
        "login.success",
        "mfa.enrol_failed",
        "mfa.enrolled",
        "mfa.confirmed",
        "mfa.failed",
        "mfa.recovery_codes_regenerated",
        "login.mfa_required",
        "mfa.failed",  # the old recovery codes were replaced
        "login.mfa_required",
        "mfa.failed",  # that step was used already
        "mfa.failed",
        "mfa.disabled",
    ]


# --- login with a second factor -----------------------------------------------------------


def second_step(api, mfa_token, **factor):
    return api.client.post("/auth/mfa", json={"mfa_token": mfa_token, **factor})


def test_login_answers_an_mfa_token_instead_of_a_pair(api, enabled):
    response = api.login()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"mfa_required", "mfa_token", "expires_in"}
    assert (body["mfa_required"], body["expires_in"]) == (True, 300)
    assert_challenge(api.login(password="x" * 12), token_given=False)  # the password still counts


def test_a_login_without_mfa_says_so(api):
    api.register()
    body = api.login().json
    assert body["mfa_required"] is False and body["token_type"] == "Bearer"


@pytest.mark.parametrize("factor", ["code", "recovery_code"])
def test_second_step_answers_a_fresh_pair(api, app, enabled, clock, factor):
    proof = code_at(enabled["secret"], clock.now) if factor == "code" else enabled["codes"][3]
    response = second_step(api, api.login().json["mfa_token"], **{factor: proof})
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    pair = response.json
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert api.get("/protected", pair["access_token"]).json["username"] == "alice"
    # fresh: good enough for the operations that need a fresh token
    assert (
        call(
            api, "POST", "/users/me/mfa/totp", pair["access_token"], {"password": PASSWORD}
        ).status_code
        == 409
    )


def test_second_steps_are_audited(api, enabled, clock, caplog):
    caplog.set_level(logging.INFO, logger="api.audit")
    by_code = second_step(
        api, api.login().json["mfa_token"], code=code_at(enabled["secret"], clock.now)
    )
    by_recovery = second_step(api, api.login().json["mfa_token"], recovery_code=enabled["codes"][0])
    assert by_code.status_code == by_recovery.status_code == 200
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.audit"]
    steps = [(r["event"], r.get("method"), r.get("remaining")) for r in records
             if r["event"] in ("mfa.verified", "mfa.recovery_code_used")]  # fmt: skip
    assert steps == [
        ("mfa.verified", "totp", None),
        ("mfa.recovery_code_used", None, len(enabled["codes"]) - 1),
        ("mfa.verified", "recovery_code", None),
    ]


def test_a_recovery_code_works_once(api, enabled):
    code = enabled["codes"][0]
    assert second_step(api, api.login().json["mfa_token"], recovery_code=code).status_code == 200
    assert_challenge(
        second_step(api, api.login().json["mfa_token"], recovery_code=code), token_given=False
    )
    spaced = enabled["codes"][1].upper().replace("-", " ")
    assert second_step(api, api.login().json["mfa_token"], recovery_code=spaced).status_code == 200


def test_an_mfa_token_is_single_use(api, enabled, clock):
    mfa_token = api.login().json["mfa_token"]
    assert second_step(api, mfa_token, recovery_code=enabled["codes"][0]).status_code == 200
    body = assert_challenge(
        second_step(api, mfa_token, code=code_at(enabled["secret"], clock.now)), token_given=False
    )
    assert "log in again" in body["detail"]


def test_an_mfa_token_expires(api, enabled, clock):
    mfa_token = api.login().json["mfa_token"]
    clock.now += 300
    assert_challenge(
        second_step(api, mfa_token, code=code_at(enabled["secret"], clock.now)), token_given=False
    )


def test_attempts_are_limited_per_mfa_token(api, enabled, clock):
    mfa_token = api.login().json["mfa_token"]
    right = code_at(enabled["secret"], clock.now)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert_challenge(second_step(api, mfa_token, code=wrong), token_given=False)
    assert_challenge(second_step(api, mfa_token, code=right), token_given=False)  # used up
    assert second_step(api, api.login().json["mfa_token"], code=right).status_code == 200


@pytest.mark.parametrize("token", ["access_token", "refresh_token", "garbage", ""])
def test_a_bearer_token_is_not_an_mfa_token(api, enabled, clock, token):
    value = enabled["pair"].get(token, token)
    response = second_step(api, value, code=code_at(enabled["secret"], clock.now))
    assert response.status_code in ((422,) if token == "" else (401,))


@pytest.mark.parametrize("path", ["/protected", "/users/me", "/auth/refresh", "/auth/logout"])
def test_an_mfa_token_is_not_a_bearer_token(api, enabled, path):
    mfa_token = api.login().json["mfa_token"]
    method = api.get if path in ("/protected", "/users/me") else api.post
    assert_challenge(method(path, mfa_token))


def test_mfa_token_dies_when_mfa_is_turned_off(api, enabled, clock):
    mfa_token = api.login().json["mfa_token"]
    token = enabled["pair"]["access_token"]
    delete = call(
        api, "DELETE", "/users/me/mfa/totp", token, {"recovery_code": enabled["codes"][0]}
    )
    assert delete.status_code == 204
    assert_challenge(
        second_step(api, mfa_token, recovery_code=enabled["codes"][1]), token_given=False
    )


def test_password_grant_style_callers_get_login_failed(app, enabled):
    """A caller of password_login that knows nothing of MFA refuses the login."""
    from api.auth import service

    with app.test_request_context(), pytest.raises(service.LoginFailed) as raised:
        service.password_login("alice", PASSWORD)
    assert isinstance(raised.value, service.SecondFactorRequired)
    assert "two-factor" in str(raised.value)


@pytest.mark.parametrize("backend", ["sql", "redis"])
def test_challenge_stores_decide_atomically(app, backend, request):
    """Both stores: one spend wins; attempts stop at the limit; expiry by the given clock."""
    from datetime import timedelta

    from api.mfa import store
    from api.users import service as users

    if backend == "redis":
        import redis

        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        chosen = store.RedisChallengeStore(client, "mfa-test:")
    else:
        chosen = store.SqlChallengeStore()
    now = store.utc(T0)
    with app.app_context():
        user = users.create("carol", PASSWORD)
        chosen.create("d" * 64, user.id, 7, now, 300)
        assert [chosen.attempt("d" * 64, now, 2) for _ in range(2)] == [(user.id, 7)] * 2
        with pytest.raises(store.ChallengeRefused) as refused:
            chosen.attempt("d" * 64, now, 2)
        assert refused.value.reason == store.EXHAUSTED
        chosen.create("e" * 64, user.id, 7, now, 300)
        assert [chosen.spend("e" * 64, now), chosen.spend("e" * 64, now)] == [True, False]
        with pytest.raises(store.ChallengeRefused) as refused:
            chosen.attempt("e" * 64, now, 5)
        assert refused.value.reason == store.USED
        chosen.create("f" * 64, user.id, 7, now, 300)
        with pytest.raises(store.ChallengeRefused) as refused:
            chosen.attempt("f" * 64, now + timedelta(seconds=300), 5)
        assert refused.value.reason == store.UNKNOWN
    if backend == "redis":
        for key in client.scan_iter("mfa-test:*"):
            client.delete(key)
        client.close()


def test_a_password_change_between_the_steps_kills_the_mfa_token(api, enabled, clock):
    """The mfa_token is bound to its login: the token epoch its password check saw."""
    mfa_token = api.login().json["mfa_token"]
    changed = call(
        api,
        "PUT",
        "/users/me/password",
        enabled["pair"]["access_token"],
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 204
    response = second_step(api, mfa_token, code=code_at(enabled["secret"], clock.now))
    assert_challenge(response, token_given=False)
