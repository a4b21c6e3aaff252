"""Server set-ups for the benchmark: instance folders, a user, and tokens to present."""

import os
import secrets
from datetime import timedelta

from flask_jwt_extended import create_access_token

from . import seed_app
from .server import Server, has_serve

USERNAME = "bench_user"
PASSWORD = "bench password 0123456789"
# logins for the throughput and flood runs: another user, so that its sessions (each login
# is one, least recently used ended past MAX_SESSIONS_PER_USER) never end the token's
FLOOD_USERNAME = "bench_flood"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
REDIS_URL = "redis://127.0.0.1:6379/15"
_BACKEND_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KEYS_DIR", "APP_ENV")
# rate limits stay on (the default), set high enough for the login flood
LIMITS = {
    "FLASK_RATELIMIT_LOGIN": "1000000 per minute",
    "FLASK_RATELIMIT_LOGIN_USERNAME": "1000000 per minute",
}


class Target:
    """One running server plus the tokens a benchmark presents to it."""

    def __init__(self, name, server, token, store=None, app=None, redis_keys=None):
        self.name = name
        self.server = server
        self.token = token
        self.store = store
        self.app = app
        self.redis_keys = redis_keys  # (url, prefix) of this target's keys in a shared Redis

    def stop(self):
        """Stop the server and delete the keys it left in Redis."""
        self.server.stop()
        if self.redis_keys:
            import redis

            url, prefix = self.redis_keys
            with redis.Redis.from_url(url) as client:
                for key in client.scan_iter(match=prefix + "*", count=500):
                    client.delete(key)

    def fresh_tokens(self, count):
        """``count`` never-seen access tokens, shaped like the ones login issues.

        Each has its own ``jti`` and the session (``fam``) of the login's token,
        so the per-request check finds a live session.
        """
        import jwt

        from api.tokens import signing
        from api.users import service as users

        session = jwt.decode(self.token, options={"verify_signature": False})["fam"]
        with self.app.test_request_context():
            user = _user(users)
            key = signing.signing_key()
            claims = {"roles": user.roles, "preferred_username": user.username, "fam": session}
            headers = {"kid": key.kid, "typ": "at+jwt"}
            return [
                create_access_token(
                    str(user.id),
                    additional_claims=claims,
                    additional_headers=headers,
                    expires_delta=timedelta(minutes=15),
                )
                for _ in range(count)
            ]


def _user(users, username=USERNAME):
    from sqlalchemy import select

    from api.core.extensions import db
    from api.users.models import User

    found = db.session.execute(select(User).where(User.username == username)).scalar()
    return found or users.create(username, PASSWORD)


def api_target(name, workdir, *, kind, database_url=None, redis_url=None):
    """Our app under ``kind`` (through ``serve`` when shipped): migrate, make the user, log in."""
    from api import create_app
    from api.users import service as users

    instance = workdir / name / "instance"
    config = {"INSTANCE_PATH": str(instance), "RATELIMIT_ENABLED": False}
    env = {"INSTANCE_PATH": str(instance), **LIMITS}
    if database_url:
        config["SQLALCHEMY_DATABASE_URI"] = database_url
        env["DATABASE_URL"] = database_url
    redis_keys = None
    if redis_url:
        prefix = f"bench-{secrets.token_hex(4)}:"  # this run's own keys, deleted by stop()
        config.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix)
        env.update(REDIS_URL=redis_url, FLASK_REDIS_KEY_PREFIX=prefix)
        redis_keys = (redis_url, prefix)
    saved = {name: os.environ.pop(name) for name in _BACKEND_VARIABLES if name in os.environ}
    try:
        app = create_app(config)
        with app.app_context():
            _user(users)
            _user(users, FLOOD_USERNAME)
            store = type(app.extensions["token_store"]).__name__
        server = Server(
            name, "api:create_app", kind=kind, env=env, log_dir=workdir, factory=True,
            serve=has_serve(),
        )  # fmt: skip
    finally:
        os.environ.update(saved)
    token = login(server.base)
    return Target(name, server, token, store=store, app=app, redis_keys=redis_keys)


def seed_target(workdir, *, kind, name=None):
    """The tutorial app (and its bare ``/health``) under ``kind``, started directly."""
    secret = os.environ.setdefault("BENCH_SEED_SECRET", secrets.token_urlsafe(48))
    seed_app.app.config["JWT_SECRET_KEY"] = secret
    name = name or f"seed-{kind}"
    server = Server(name, "bench.seed_app:app", kind=kind, env={}, log_dir=workdir)
    return Target(name, server, seed_app.token(), store="none")


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


def redis_url(url=REDIS_URL, wait=0.0):
    """``url`` if a Redis answers there (within ``wait`` seconds), else None."""
    import time

    import redis

    deadline = time.monotonic() + wait
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
            return url
        except Exception:  # noqa: BLE001 - any failure means "not reachable here"
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)
