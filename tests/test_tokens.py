"""Token contents, verification rules and revocation persistence."""

import time

import jwt as pyjwt
import pytest
from helpers import assert_challenge

from api import create_app
from api.tokens.store import SqlTokenStore


def header_and_claims(token):
    return pyjwt.get_unverified_header(token), pyjwt.decode(
        token, options={"verify_signature": False}
    )


def test_access_token_claims_and_headers(api, client):
    pair = api.tokens()
    header, claims = header_and_claims(pair["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    kid = client.get("/.well-known/jwks.json").json["keys"][0]["kid"]
    assert header["kid"] == kid
    for name in ("sub", "jti", "iat", "nbf", "exp", "type", "fresh", "roles", "iss", "aud", "fam"):
        assert name in claims, name
    assert claims["type"] == "access"
    assert claims["fresh"] is True
    assert claims["roles"] == ["user"]
    assert claims["iss"] == claims["aud"] == "jwt-auth-api"
    assert claims["exp"] - claims["iat"] == 900
    assert isinstance(claims["sub"], str)


def test_refresh_token_claims(api):
    pair = api.tokens()
    header, claims = header_and_claims(pair["refresh_token"])
    access = header_and_claims(pair["access_token"])[1]
    assert claims["type"] == "refresh"
    assert claims["fam"] == access["fam"]
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600
    assert header["kid"]


def test_refreshed_access_token_is_not_fresh(api):
    pair = api.tokens()
    new = api.post("/auth/refresh", pair["refresh_token"]).json
    assert header_and_claims(new["access_token"])[1]["fresh"] is False


def sign_like_server(app, claims, **header):
    from api.tokens import signing

    with app.app_context():
        key = signing.ring().signing_key()
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return pyjwt.encode(claims, key.private, algorithm="EdDSA", headers=headers)


def good_claims(**changes):
    now = int(time.time())
    claims = {
        "sub": "1",
        "jti": "00000000-0000-0000-0000-000000000000",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "type": "access",
        "fresh": False,
        "roles": ["user"],
        "preferred_username": "alice",
        "fam": "f",
        "iss": "jwt-auth-api",
        "aud": "jwt-auth-api",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_a_correctly_signed_token_is_accepted_only_with_a_live_session(app, api):
    session = header_and_claims(api.tokens()["access_token"])[1]["fam"]  # user 1 logs in
    claims = good_claims(fam=session)
    assert api.get("/protected", sign_like_server(app, claims)).status_code == 200
    for changes in ({"fam": "no-such-session"}, {"fam": None}, {"sub": "2"}):
        assert_challenge(api.get("/protected", sign_like_server(app, {**claims, **changes})))


@pytest.mark.parametrize(
    "changes",
    [
        {"type": None},
        {"jti": None},
        {"exp": None},
        {"iat": None},
        {"sub": None},
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"exp": int(time.time()) - 10},
        {"nbf": int(time.time()) + 3600},
    ],
)
def test_claim_rules(app, api, changes):
    assert_challenge(api.get("/protected", sign_like_server(app, good_claims(**changes))))


@pytest.mark.parametrize("typ", [None, "JWT", "rt+jwt"])
def test_access_token_needs_its_typ_header(app, api, typ):
    assert_challenge(api.get("/protected", sign_like_server(app, good_claims(), typ=typ)))


def test_user_gone_without_revocation_is_401_with_challenge(app, api):
    """A row deleted behind the API's back (no revocation): on SQL its sessions go with it
    (foreign key) and the per-request check refuses the token; on Redis the sessions stay,
    and the view's user lookup refuses it the same way (invalid_token)."""
    from api.core.extensions import db
    from api.users.models import User

    pair = api.tokens()
    with app.app_context():
        db.session.delete(db.session.get(User, 1))
        db.session.commit()
    response = api.get("/users/me", pair["access_token"])
    assert_challenge(response)


def test_revocation_survives_restart(config, api):
    pair = api.tokens()
    api.post("/auth/logout", pair["access_token"])
    restarted = create_app(config).test_client()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert_challenge(restarted.get("/protected", headers=headers))
    refresh = {"Authorization": f"Bearer {pair['refresh_token']}"}
    assert_challenge(restarted.post("/auth/refresh", headers=refresh))


def test_tokens_survive_restart(config, api):
    pair = api.tokens()
    restarted = create_app(config).test_client()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert restarted.get("/protected", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("algorithm", "published"),
    [("EdDSA", 1), ("ES256", 1), ("HS256", 0), ("HS384", 0), ("HS512", 0)],
)
def test_every_accepted_algorithm_works_end_to_end(config, algorithm, published):
    """JWT_ALGORITHM accepts exactly what works: sign, verify, refresh, JWKS."""
    config.update(JWT_ALGORITHM=algorithm, JWT_SECRET_KEY="s" * 64 + "-random-bytes")
    client = create_app(config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": "p" * 12})
    pair = client.post("/auth/login", json={"username": "alice", "password": "p" * 12}).json
    assert pyjwt.get_unverified_header(pair["access_token"])["alg"] == algorithm
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/protected", headers=headers).status_code == 200
    refresh = {"Authorization": f"Bearer {pair['refresh_token']}"}
    renewed = client.post("/auth/refresh", headers=refresh)
    assert renewed.status_code == 200
    headers = {"Authorization": f"Bearer {renewed.json['access_token']}"}
    assert client.get("/protected", headers=headers).status_code == 200
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert len(keys) == published and all(key["alg"] == algorithm for key in keys)


def test_token_signed_by_retired_key_is_rejected(app, api, config):
    from api.tokens.keys import KeyDirectory

    pair = api.tokens()
    directory = KeyDirectory(app.config["KEYS_DIR"])
    old = directory.current_kid()
    directory.rotate("EdDSA")
    restarted = create_app(config).test_client()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert restarted.get("/protected", headers=headers).status_code == 200
    directory.retire(old)
    assert_challenge(create_app(config).test_client().get("/protected", headers=headers))


def test_oversized_authorization_header(api):
    response = api.client.get("/protected", headers={"Authorization": "Bearer " + "a" * 16_000})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_sql_purge_removes_only_expired(config):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from api.core.extensions import db
    from api.tokens import service
    from api.tokens.models import Revocation, Session
    from api.tokens.store import SessionRecord
    from api.users import service as users

    config["REDIS_URL"] = None  # the SQL store, whatever the environment says
    app = create_app(config)
    with app.app_context():
        store = service.store()
        assert isinstance(store, SqlTokenStore)
        now = datetime.now(UTC)
        store.revoke("old", now - timedelta(seconds=1))
        store.revoke("live", now + timedelta(hours=1))
        user = users.create("alice", "p" * 12)
        for name, expires in (("gone", now - timedelta(seconds=1)), ("kept", now + timedelta(1))):
            record = SessionRecord(name, user.id, 0, f"jti-{name}", now, now, expires)
            store.create_session(record, 100)
        db.session.commit()
        assert store.purge() == 2
        db.session.commit()
        kept = db.session.scalars(select(Revocation.key)).all()
        assert kept == ["live"]
        assert [s.id for s in db.session.scalars(select(Session))] == ["kept"]
