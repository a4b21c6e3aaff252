"""Canonical usernames (issue 10 item 5): NFKC + casefold, whole-string validation,
a unique index on the canonical form, and a migration for existing rows."""

import backends
import pytest
import sqlalchemy as sa
from helpers import PASSWORD, assert_problem

from api import create_app
from api.core.extensions import db, limiter
from api.users.names import canonical

FULLWIDTH = "\uff41\uff4c\uff49\uff43\uff45"  # "alice" in fullwidth letters


@pytest.mark.parametrize("username", ["alice\n", "alice\r\n", "\nalice", "ali ce", "alice\x00"])
def test_validation_matches_the_whole_string(api, username):
    assert_problem(api.register(username), 422)


@pytest.mark.parametrize("other", ["Alice", "ALICE", "alIce", FULLWIDTH])
def test_one_account_per_canonical_form(api, other):
    assert api.register("alice").status_code == 201
    response = api.register(other)
    if response.status_code != 422:  # fullwidth letters are not in the registration alphabet
        assert_problem(response, 409)


@pytest.mark.parametrize("spelling", ["ALICE", "Alice", FULLWIDTH])
def test_login_finds_the_account_by_its_canonical_form(api, spelling):
    api.register("Alice")
    response = api.login(spelling)
    assert response.status_code == 200
    me = api.get("/users/me", response.json["access_token"]).json
    assert me["username"] == "Alice"  # shown as registered


def test_canonical_form():
    assert canonical(FULLWIDTH.upper()) == canonical("Alice") == "alice"
    assert canonical("Straße") == "strasse"
    assert canonical("\ufb01le") == "file"


def test_database_refuses_two_rows_with_one_canonical_form(app):
    with app.app_context():
        from api.users import service

        service.create("alice", PASSWORD)
        insert = sa.text(
            "INSERT INTO users (username, username_canonical, password_hash, is_admin, "
            "created_at) VALUES ('ALICE', 'alice', 'x', false, CURRENT_TIMESTAMP)"
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(insert)
        db.session.rollback()


def test_username_limit_counts_every_spelling_of_one_account(config):
    config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="100 per minute",
        RATELIMIT_LOGIN_USERNAME="3 per minute",
    )
    app = create_app(config)
    with app.app_context():
        limiter.reset()
    client = app.test_client()
    client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    for spelling in ("ALICE", FULLWIDTH, "Alice"):
        wrong = {"username": spelling, "password": "wrong password 123"}
        assert client.post("/auth/login", json=wrong).status_code == 401
    right = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert_problem(right, 429)


# ---- the migration ------------------------------------------------------------------------

BEFORE = "5e55a0e1c0de"  # the revision before username_canonical


@pytest.fixture
def fresh(config):
    """Settings with an empty database (on PostgreSQL a schema of its own)."""
    if not backends.on_postgres():
        yield config
        return
    from api.core.config import _sqlalchemy_url

    with backends.postgres_schema(tag="canon") as url:
        config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(url)
        yield config


def _app_at(config, revision, usernames):
    """An app whose database is at ``revision`` holding ``usernames`` (by raw SQL)."""
    import flask_migrate

    from api.core.database import MIGRATIONS, register_migrate

    config.update(AUTO_MIGRATE=False)
    app = create_app(config)
    register_migrate(app)  # Flask-Migrate is set up on demand (api.core.database)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision=revision)
        for name in usernames:
            db.session.execute(
                sa.text(
                    "INSERT INTO users (username, password_hash, is_admin, created_at) "
                    "VALUES (:name, 'x', false, CURRENT_TIMESTAMP)"
                ),
                {"name": name},
            )
        db.session.commit()
    return app


def _upgrade(app):
    import flask_migrate

    from api.core.database import MIGRATIONS

    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)


def test_migration_fills_the_canonical_form(fresh):
    app = _app_at(fresh, BEFORE, ["Bob", "carol", "dave\n"])
    _upgrade(app)
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT username, username_canonical FROM users ORDER BY id")
        ).all()
        db.session.remove()
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("Bob", "bob"),
        ("carol", "carol"),
        ("dave\n", "dave\n"),  # registered before whole-string validation; still logs in
    ]


def test_migration_refuses_existing_collisions_and_names_them(fresh, caplog):
    app = _app_at(fresh, BEFORE, ["alice", "Bob", "ALICE"])
    with pytest.raises(SystemExit):  # flask-migrate logs the error, then exits: no start
        _upgrade(app)
    assert "would become one: id 1 'alice', id 3 'ALICE'" in caplog.text
    with app.app_context():
        db.session.remove()
        # nothing half-done: still at the old revision, the rows untouched
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
        count = db.session.scalar(sa.text("SELECT count(*) FROM users"))
        db.session.remove()
        db.engine.dispose()
    assert "username_canonical" not in columns
    assert count == 3
