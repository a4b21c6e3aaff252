"""Migrations keep live data: the sessions migration turns refresh families into sessions."""

from datetime import UTC, datetime, timedelta

import flask_migrate
from sqlalchemy import text

from api import create_app
from api.core.database import MIGRATIONS, register_migrate
from api.core.extensions import db

SESSIONS = "5e55a0e1c0de"


def test_live_refresh_families_become_sessions_and_back(config):
    config["AUTO_MIGRATE"] = False
    app = create_app(config)
    register_migrate(app)  # Flask-Migrate is set up on demand (api.core.database)
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
        flask_migrate.downgrade(directory=MIGRATIONS, revision=f"{SESSIONS}-1")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, is_admin, created_at) "
                    "VALUES (1, 'old', 'x', false, :now)"
                ),
                {"now": later},
            )
            rows = [  # family, jti, spent
                ("fam-live", "j1", True),
                ("fam-live", "j2", False),
                ("fam-stolen", "j3", False),  # revoked as a family: stays ended
                ("fam-done", "j4", True),  # rotated to nothing: no session
            ]
            for family, jti, spent in rows:
                connection.execute(
                    text(
                        "INSERT INTO refresh_tokens (jti, family, user_id, expires_at, spent_at) "
                        "VALUES (:jti, :family, 1, :later, :spent)"
                    ),
                    {
                        "jti": jti,
                        "family": family,
                        "later": later,
                        "spent": later if spent else None,
                    },
                )
            connection.execute(
                text("INSERT INTO revocations (\"key\", expires_at) VALUES ('fam-stolen', :later)"),
                {"later": later},
            )
        flask_migrate.upgrade(directory=MIGRATIONS)
        with db.engine.connect() as connection:
            sessions = connection.execute(
                text("SELECT id, user_id, epoch, refresh_jti FROM sessions")
            ).all()
            epoch = connection.execute(text("SELECT token_epoch FROM users")).scalar_one()
        assert [tuple(row) for row in sessions] == [("fam-live", 1, 0, "j2")]
        assert epoch == 0
        flask_migrate.downgrade(directory=MIGRATIONS, revision=f"{SESSIONS}-1")
        with db.engine.connect() as connection:
            back = connection.execute(text("SELECT jti, family FROM refresh_tokens")).all()
        assert [tuple(row) for row in back] == [("j2", "fam-live")]
        flask_migrate.upgrade(directory=MIGRATIONS)
        db.session.remove()
