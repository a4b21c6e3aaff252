"""Black-box attacks on the bearer-token path: every one must get a 401 (never 200/500)."""

import base64
import json
import time
import uuid

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from helpers import PASSWORD, assert_challenge, assert_problem

from api.tokens.keys import Key


def b64(data):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


@pytest.fixture
def victim(api):
    """A real user's token pair and the server's current public key."""
    pair = api.tokens()
    jwks = api.client.get("/.well-known/jwks.json").json
    return pair, jwks["keys"][0]


def forge(header, payload, signature=""):
    return f"{b64(header)}.{b64(payload)}.{signature}"


def attacker_token(payload, **header):
    key = ed25519.Ed25519PrivateKey.generate()
    return pyjwt.encode(payload, key, algorithm="EdDSA", headers=header)


def cases(pair, jwk):
    header, payload, signature = parts(pair["access_token"])
    kid = header["kid"]
    now = int(time.time())
    raw_public = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    attacker = Key.from_private(ed25519.Ed25519PrivateKey.generate())
    return {
        "empty bearer": "",
        "garbage": "garbage",
        "three garbage parts": "a.b.c",
        "alg none": forge({**header, "alg": "none"}, payload),
        "alg none, signature kept": forge({**header, "alg": "none"}, payload, signature),
        "tampered payload, original signature": forge(
            header, {**payload, "roles": ["user", "admin"], "sub": "2"}, signature
        ),
        "signature stripped": forge(header, payload),
        "HS256 with the server public key (algorithm confusion)": pyjwt.api_jws.PyJWS(
            algorithms=["HS256"]
        ).encode(
            json.dumps(payload).encode(),
            raw_public,
            algorithm="HS256",
            headers={"kid": kid, "typ": "at+jwt"},
        ),
        "attacker key, real kid": attacker_token(payload, kid=kid, typ="at+jwt"),
        "attacker key, own kid": attacker_token(payload, kid=attacker.kid),
        "unknown kid": forge({**header, "kid": "A" * 43}, payload, signature),
        "no kid": attacker_token(payload),
        "kid path traversal": forge(
            {**header, "kid": "../../../../etc/passwd"}, payload, signature
        ),
        "kid sql": forge({**header, "kid": "x' OR '1'='1"}, payload, signature),
        "kid not a string": forge({**header, "kid": {"$ne": 1}}, payload, signature),
        "jku elsewhere": attacker_token(payload, jku="http://127.0.0.1:1/jwks.json", kid=kid),
        "embedded jwk": attacker_token(payload, jwk=attacker.jwk(), kid=attacker.kid),
        "x5u elsewhere": attacker_token(payload, x5u="http://127.0.0.1:1/cert.pem", kid=kid),
        "expired": attacker_token({**payload, "exp": now - 60}, kid=kid),
        "refresh token at protected route": pair["refresh_token"],
        "huge claims": forge(header, {**payload, "pad": "x" * 2000}, signature),
        "random jti": forge(header, {**payload, "jti": str(uuid.uuid4())}, signature),
    }


CASE_NAMES = [
    "empty bearer",
    "garbage",
    "three garbage parts",
    "alg none",
    "alg none, signature kept",
    "tampered payload, original signature",
    "signature stripped",
    "HS256 with the server public key (algorithm confusion)",
    "attacker key, real kid",
    "attacker key, own kid",
    "unknown kid",
    "no kid",
    "kid path traversal",
    "kid sql",
    "kid not a string",
    "jku elsewhere",
    "embedded jwk",
    "x5u elsewhere",
    "expired",
    "refresh token at protected route",
    "huge claims",
    "random jti",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forged_token_is_rejected(api, victim, name):
    pair, jwk = victim
    token = cases(pair, jwk)[name]
    response = api.client.get("/protected", headers={"Authorization": f"Bearer {token}"})
    assert_challenge(response)
    assert api.get("/protected", pair["access_token"]).status_code == 200  # control


def test_no_header(api):
    assert_challenge(api.client.get("/protected"), token_given=False)


@pytest.mark.parametrize("value", ["Basic YWxpY2U6cHc=", "Bearer", "Token abc", "bearer"])
def test_other_schemes(api, value):
    response = api.client.get("/protected", headers={"Authorization": value})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_token_in_query_string_or_body_is_ignored(api, victim):
    pair, _ = victim
    assert_challenge(api.client.get(f"/protected?jwt={pair['access_token']}"), token_given=False)
    response = api.client.post("/auth/logout", json={"access_token": pair["access_token"]})
    assert_challenge(response, token_given=False)


@pytest.mark.parametrize(
    "claims",
    [
        {"nbf": int(time.time()) + 3600},
        {"iss": "https://evil.example"},
        {"aud": "another-service"},
        {"exp": int(time.time()) - 1},
        {"type": "refresh"},
    ],
)
def test_claims_signed_by_the_real_key(app, api, victim, claims):
    """Even with our own key, wrong iss/aud/nbf/exp/type are refused."""
    from api.tokens import signing

    pair, _ = victim
    header, payload, _ = parts(pair["access_token"])
    with app.app_context():
        key = signing.ring().signing_key()
    token = pyjwt.encode({**payload, **claims}, key.private, algorithm="EdDSA", headers=header)
    assert_challenge(api.get("/protected", token))


def test_access_token_at_refresh(api, victim):
    pair, _ = victim
    assert_challenge(api.post("/auth/refresh", pair["access_token"]))


@pytest.mark.parametrize("size", [5_000, 16_000])
def test_huge_authorization_header(api, size):
    response = api.client.get("/protected", headers={"Authorization": "Bearer " + "a" * size})
    assert response.status_code in (400, 431)
    assert_problem(response, response.status_code)


def test_revoked_after_logout(api, victim):
    pair, _ = victim
    api.post("/auth/logout", pair["access_token"])
    assert_challenge(api.get("/protected", pair["access_token"]))
    assert_challenge(api.post("/auth/refresh", pair["refresh_token"]))


def test_revoked_after_password_change(api, victim):
    pair, _ = victim
    other = api.login().json
    body = {"current_password": PASSWORD, "new_password": "a different passphrase"}
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert api.client.put("/users/me/password", json=body, headers=headers).status_code == 204
    assert_challenge(api.get("/protected", pair["access_token"]))
    assert_challenge(api.post("/auth/refresh", pair["refresh_token"]))


def test_revoked_after_user_deletion(api, victim, admin_token):
    pair, _ = victim
    user_id = api.get("/users/me", pair["access_token"]).json["id"]
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert api.client.delete(f"/users/{user_id}", headers=headers).status_code == 204
    assert_challenge(api.get("/protected", pair["access_token"]))
    assert_challenge(api.get("/users/me", pair["access_token"]))
    assert_challenge(api.post("/auth/refresh", pair["refresh_token"]))


def test_role_claim_cannot_be_self_granted(api, victim):
    pair, _ = victim
    header, payload, signature = parts(pair["access_token"])
    token = forge(header, {**payload, "roles": ["admin"]}, signature)
    assert_challenge(api.get("/users", token))
    assert_problem(api.get("/users", pair["access_token"]), 403)
