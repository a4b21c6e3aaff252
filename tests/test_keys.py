"""Key sets: generation, RFC 7638 kids, rotation, retirement, racing workers."""

import json
import threading

import pytest

from api.tokens.keys import KeyDirectory, KeyRing, public_jwk, thumbprint


def test_rfc7638_example_thumbprint():
    # RFC 7638 §3.1 example key and its thumbprint
    jwk = {
        "e": "AQAB",
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
            "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
            "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
            "Cur-kEgU8awapJzKnqDKgw"
        ),
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_first_key_is_made_once(tmp_path):
    directory = KeyDirectory(tmp_path)
    directory.ensure("EdDSA")
    kid = directory.current_kid()
    directory.ensure("EdDSA")
    assert directory.current_kid() == kid
    assert [p.name for p in tmp_path.glob("*.pem")] == [f"{kid}.pem"]
    assert (tmp_path / f"{kid}.pem").stat().st_mode & 0o077 == 0


def test_racing_workers_share_one_key(tmp_path):
    rings = []

    def start():
        rings.append(KeyRing(KeyDirectory(tmp_path), "EdDSA"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({ring.current.kid for ring in rings}) == 1
    assert len(list(tmp_path.glob("*.pem"))) == 1


def test_rotation_and_retirement(tmp_path):
    directory = KeyDirectory(tmp_path)
    ring = KeyRing(directory, "EdDSA")
    old = ring.current.kid
    new = directory.rotate("EdDSA")
    ring.refresh(force=True)
    assert ring.signing_key().kid == new
    assert ring.verification_key(old) is not None
    with pytest.raises(ValueError, match="current"):
        directory.retire(new)
    directory.retire(old)
    ring.refresh(force=True)
    assert ring.verification_key(old) is None
    with pytest.raises(KeyError):
        directory.retire(old)


def test_es256_keys(tmp_path):
    ring = KeyRing(KeyDirectory(tmp_path), "ES256")
    jwk = ring.jwks()["keys"][0]
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["alg"] == "ES256"
    assert jwk["kid"] == thumbprint(public_jwk(ring.current.public))


def test_jwks_endpoint_publishes_public_keys_only(client):
    body = client.get("/.well-known/jwks.json").json
    (key,) = body["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
    assert "d" not in key
    assert key["kid"] == thumbprint({k: key[k] for k in ("crv", "kty", "x")})
    assert "PRIVATE" not in json.dumps(body)


def test_hs256_publishes_nothing(config):
    from api import create_app

    config.update(JWT_ALGORITHM="HS256", JWT_SECRET_KEY="s" * 40 + "-random-bytes")
    client = create_app(config).test_client()
    assert client.get("/.well-known/jwks.json").json == {"keys": []}


def _forged_token(kid):
    """A well-formed access token naming ``kid`` (its signature never gets checked)."""
    import base64

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
    claims = {"exp": 4102444800, "iat": 1, "jti": "j", "sub": "1", "type": "access"}
    return f"{part(header)}.{part(claims)}.{part('sig')}"


def test_unknown_kids_force_at_most_one_reload_per_window(app, client, monkeypatch):
    """Each unknown kid of the right length would make the worker re-read every key file."""
    import secrets

    from api.tokens import keys

    ring = app.extensions["keyring"]
    loads = []
    real_load = ring.directory.load
    monkeypatch.setattr(ring.directory, "load", lambda: loads.append(1) or real_load())
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    ring._checked = ring._loaded = now[0] - 60  # a quiet worker, long after its last look

    for _ in range(50):
        kid = secrets.token_urlsafe(32)  # 43 characters, like a real RFC 7638 kid
        headers = {"Authorization": f"Bearer {_forged_token(kid)}"}
        response = client.get("/protected", headers=headers)
        assert response.status_code == 401
    assert len(loads) == 1

    # a key rotated in by another host is still found: at once after the window ...
    new = ring.directory.rotate("EdDSA")
    now[0] += keys.FORCED_RELOAD_SECONDS
    assert ring.verification_key(new) is not None
    assert len(loads) == 2
    # ... and the window starts again
    for _ in range(20):
        assert ring.verification_key(secrets.token_urlsafe(32)) is None
    assert len(loads) == 2
