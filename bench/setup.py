"""Server set-ups for the benchmark: instance folders, a user, and tokens to present."""

import os
import secrets
from datetime import timedelta

from flask_jwt_extended import create_access_token

from . import seed_app
from .server import Server

USERNAME = "bench_user"
PASSWORD = "bench password 0123456789"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
REDIS_URL = "redis://127.0.0.1:6379/15"
_BACKEND_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KEYS_DIR", "APP_ENV")


class Target:
    """One running server plus the tokens a benchmark presents to it."""

    def __init__(self, name, server, token, store=None, app=None):
        self.name = name
        self.server = server
        self.token = token
        self.store = store
        self.app = app

    def fresh_tokens(self, count):
        """``count`` never-seen access tokens, shaped like the ones login issues."""
        from api.tokens import signing
        from api.users import service as users

        with self.app.test_request_context():
            user = _user(users)
            key = signing.signing_key()
            claims = {"roles": user.roles, "preferred_username": user.username}
            headers = {"kid": key.kid, "typ": "at+jwt"}
            return [
                create_access_token(
                    str(user.id),
                    additional_claims={**claims, "fam": secrets.token_hex(16)},
                    additional_headers=headers,
                    expires_delta=timedelta(minutes=15),
                )
                for _ in range(count)
            ]


def _user(users):
    from sqlalchemy import select

    from api.extensions import db
    from api.users.models import User

    found = db.session.execute(select(User).where(User.username == USERNAME)).scalar()
    return found or users.create(USERNAME, PASSWORD)


def api_target(name, workdir, *, workers, database_url=None, redis_url=None):
    """Our app under gunicorn: migrate, make the user and log in once."""
    from api import create_app
    from api.users import service as users

    instance = workdir / name / "instance"
    config = {"INSTANCE_PATH": str(instance), "RATELIMIT_ENABLED": False}
    env = {"INSTANCE_PATH": str(instance), "FLASK_RATELIMIT_ENABLED": "false"}
    if database_url:
        config["SQLALCHEMY_DATABASE_URI"] = database_url
        env["DATABASE_URL"] = database_url
    if redis_url:
        config["REDIS_URL"] = redis_url
        env["REDIS_URL"] = redis_url
    saved = {name: os.environ.pop(name) for name in _BACKEND_VARIABLES if name in os.environ}
    try:
        app = create_app(config)
        with app.app_context():
            _user(users)
            store = type(app.extensions["token_store"]).__name__
        server = Server(name, "api:create_app()", workers=workers, env=env, log_dir=workdir)
    finally:
        os.environ.update(saved)
    token = login(server.base)
    return Target(name, server, token, store=store, app=app)


def seed_target(workdir, *, workers):
    secret = secrets.token_urlsafe(48)
    os.environ["BENCH_SEED_SECRET"] = secret
    seed_app.app.config["JWT_SECRET_KEY"] = secret
    server = Server("seed", "bench.seed_app:app", workers=workers, env={}, log_dir=workdir)
    return Target("seed", server, seed_app.token(), store="none")


def login(base):
    import json
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        base + "/auth/login",
        data=json.dumps({"username": USERNAME, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)["access_token"]


def postgres_url():
    """The bench database URL (created if needed), or None when PostgreSQL is unreachable."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=2) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'bench'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE bench")
    except Exception:  # noqa: BLE001 - any failure means "not reachable here"
        return None
    return PG_BENCH_URL


def redis_url():
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:  # noqa: BLE001
        return None
    return REDIS_URL
