"""argon2id hashing: OWASP parameters, rehash on login, no short-circuit for unknown users."""

from helpers import PASSWORD

from api import create_app
from api.users.passwords import Passwords


def test_owasp_parameters():
    encoded = Passwords({}).hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify():
    passwords = Passwords({})
    encoded = passwords.hash(PASSWORD)
    assert passwords.verify(encoded, PASSWORD)
    assert not passwords.verify(encoded, PASSWORD + "x")
    assert not passwords.verify("not a hash", PASSWORD)


def test_unknown_user_never_verifies_even_with_the_dummy_password():
    passwords = Passwords({})
    assert not passwords.verify(None, "dummy password for unknown users")
    assert not passwords.verify(None, PASSWORD)


def stored_hash(app, username):
    from api.users.models import User

    with app.app_context():
        return User.query.filter_by(username=username).one().password_hash


def test_login_rehashes_when_parameters_change(config):
    old = create_app({**config, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8192})
    old.test_client().post("/auth/register", json={"username": "alice", "password": PASSWORD})
    assert "$m=8192,t=1,p=1$" in stored_hash(old, "alice")

    new = create_app(config)
    client = new.test_client()
    failed = client.post("/auth/login", json={"username": "alice", "password": "wrong one 12"})
    assert failed.status_code == 401
    assert "$m=8192,t=1,p=1$" in stored_hash(new, "alice")  # no rehash without the password
    assert (
        client.post("/auth/login", json={"username": "alice", "password": PASSWORD}).status_code
        == 200
    )
    assert "$m=19456,t=2,p=1$" in stored_hash(new, "alice")
    assert (
        client.post("/auth/login", json={"username": "alice", "password": PASSWORD}).status_code
        == 200
    )
