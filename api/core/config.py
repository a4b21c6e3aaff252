"""Settings: safe development defaults, overridden from the environment.

Precedence (last wins): the defaults below, ``DATABASE_URL`` / ``REDIS_URL`` /
``APP_ENV`` / ``KEYS_DIR`` by their usual names, every ``FLASK_*`` variable
through :meth:`flask.Config.from_prefixed_env`, then the mapping given to
``create_app(config)``.
"""

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Config, Flask

from ..version import __version__
from .files import private_directory, private_sqlite_files, write_once

PRODUCTION_NAMES = {"production", "prod"}
MIN_SECRET_BYTES = 32
# Every JWT_ALGORITHM that works end to end (sign, verify, JWKS). An HMAC secret must be
# at least as long as the hash output (RFC 7518 §3.2).
KEY_ALGORITHMS = ("EdDSA", "ES256")
HMAC_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    "SQLALCHEMY_DATABASE_URI": None,  # instance/app.sqlite when unset
    # hide_parameters: an error message never carries the statement's values (password hashes)
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    "REDIS_URL": None,
    "REDIS_KEY_PREFIX": "jwtauth:",
    "REDIS_SOCKET_TIMEOUT": 1.0,  # seconds; a hung Redis gives 503, not a hang
    "REDIS_CONNECT_TIMEOUT": 1.0,
    # replicas that must hold a token-state write before it is acknowledged (WAIT);
    # None: 1 with a redis+sentinel:// URL, 0 otherwise (see api.core.redisdb)
    "REDIS_MIN_REPLICAS": None,
    "REDIS_REPLICA_TIMEOUT": 0.5,  # seconds to wait for them, then 503
    "REDIS_ALLOW_EVICTION": False,  # accept a maxmemory-policy other than noeviction
    "REDIS_MAXMEMORY_POLICY": None,  # the policy, stated, where CONFIG GET is disabled
    "DATABASE_CONNECT_TIMEOUT": 3,  # seconds, PostgreSQL (psycopg connect_timeout)
    "KEYS_DIR": None,  # instance/keys when unset
    "AUTO_MIGRATE": True,
    "REGISTRATION_OPEN": True,
    "USERNAME_MIN_LENGTH": 3,
    "USERNAME_MAX_LENGTH": 64,
    "PASSWORD_MIN_LENGTH": 12,
    "PASSWORD_MAX_LENGTH": 1024,
    "MAX_CONTENT_LENGTH": 16 * 1024,
    "MAX_AUTHORIZATION_HEADER_BYTES": 4096,
    "VERIFIED_TOKEN_CACHE_SIZE": 1024,  # tokens whose signature a worker checked (0: off)
    "HSTS_SECONDS": 0,  # Strict-Transport-Security max-age; 0: not sent (plain HTTP)
    "HSTS_INCLUDE_SUBDOMAINS": False,
    "TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-* headers to trust
    "MAX_SESSIONS_PER_USER": 100,  # a new login past this ends the least recently used
    # two-factor authentication (api/mfa)
    "MFA_ENCRYPTION_KEY": None,  # instance/mfa_key when unset; required in production
    "MFA_ISSUER": "JWT Auth API",  # shown by authenticator apps
    "MFA_TOKEN_EXPIRES": 300,  # seconds an mfa_token from /auth/login stays usable
    "MFA_TOKEN_MAX_ATTEMPTS": 5,  # codes tried per mfa_token
    "MFA_MAX_FAILURES": 10,  # code attempts per user in a window ...
    "MFA_FAILURE_WINDOW": 900,  # ... of this many seconds (then 429)
    "ACCESS_LOG": True,  # one JSON line per request on the api.access logger
    "CORS_ORIGINS": [],  # browser origins allowed to call the API (api/core/cors.py)
    "METRICS_ENABLED": True,  # GET /metrics, from loopback addresses only unless...
    "METRICS_BEARER_TOKEN": None,  # ...set: then only with this bearer token
    "OAUTH_PASSWORD_GRANT": True,  # POST /oauth/token grant_type=password (first-party tools)
    # flask-jwt-extended
    "JWT_ALGORITHM": "EdDSA",
    "JWT_SECRET_KEY": None,  # only for HS256
    "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=15),
    "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=30),
    "JWT_TOKEN_LOCATION": ["headers"],
    "JWT_COOKIE_CSRF_PROTECT": False,  # header tokens only: no csrf claim
    "JWT_ENCODE_ISSUER": "jwt-auth-api",
    "JWT_DECODE_ISSUER": "jwt-auth-api",
    "JWT_ENCODE_AUDIENCE": "jwt-auth-api",
    "JWT_DECODE_AUDIENCE": "jwt-auth-api",
    "JWT_ENCODE_NBF": True,
    "JWT_DECODE_LEEWAY": 0,  # seconds of clock skew allowed on exp/nbf
    "JWT_ERROR_MESSAGE_KEY": "detail",
    "PROPAGATE_EXCEPTIONS": False,
    # flask-smorest
    "API_TITLE": "JWT Auth API",
    "API_VERSION": __version__,
    "OPENAPI_VERSION": "3.1.0",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "JWT authentication: register, log in for an access + refresh token pair, "
                "call protected operations with `Authorization: Bearer <access_token>`, "
                "refresh (rotating, single-use refresh tokens) and log out (revocation). "
                "Every error is RFC 9457 `application/problem+json` (RFC 6749 JSON on the "
                "`/oauth/*` endpoints). Use **Authorize** with the `access_token` from "
                "`POST /auth/login` (bearerAuth), or with a username and password (oauth2, "
                "the password grant of `POST /oauth/token`)."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
    },
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/swagger-ui-assets/",
    "OPENAPI_SWAGGER_UI_CONFIG": {
        "validatorUrl": None,
        "persistAuthorization": True,
        "displayRequestDuration": True,
    },
    # Flask-Limiter (storage is set from REDIS_URL in extensions)
    "RATELIMIT_ENABLED": True,
    # off: X-RateLimit-* headers read Redis after the view, where a failure would turn
    # a request already done (a login, a registration) into an error
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_LOGIN": "10 per minute",
    "RATELIMIT_LOGIN_USERNAME": "5 per minute",
    "RATELIMIT_REGISTER": "10 per hour",
    "RATELIMIT_PASSWORD_CHANGE": "5 per minute",  # wrong current passwords per user
    "RATELIMIT_REFRESH": "10 per minute",  # refreshes per session
    # a limiter that cannot count answers 503 (fail closed), never lets requests through
    "RATELIMIT_SWALLOW_ERRORS": False,
    "RATELIMIT_ALLOW_MEMORY_STORAGE": False,  # production: only with exactly one worker
    "RATELIMIT_INTROSPECT": "600 per minute",  # per OAuth client
    "RATELIMIT_REVOKE": "60 per minute",  # per client address
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app refuses to start."""


def load(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, environment and ``overrides``."""
    app.config.from_mapping(DEFAULTS)
    env = os.environ
    if env.get("APP_ENV"):
        app.config["APP_ENV"] = env["APP_ENV"]
    if env.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(env["DATABASE_URL"])
    if env.get("REDIS_URL"):
        app.config["REDIS_URL"] = env["REDIS_URL"]
    if env.get("KEYS_DIR"):
        app.config["KEYS_DIR"] = env["KEYS_DIR"]
    app.config.from_prefixed_env()
    if overrides:
        app.config.from_mapping(overrides)
    _check_redis(app.config)  # before the rate limiter's storage is derived from REDIS_URL
    _fill_instance_defaults(app)
    check(app.config)


def is_production(config: Any) -> bool:
    """Whether the app runs with production guards on."""
    return str(config.get("APP_ENV", "")).lower() in PRODUCTION_NAMES


def check(config: Mapping[str, Any]) -> None:
    """Refuse unsafe settings: in production, any weak or default secret."""
    algorithm = config["JWT_ALGORITHM"]
    if algorithm in HMAC_SECRET_BYTES:
        _require_strong(
            config.get("JWT_SECRET_KEY"),
            "FLASK_JWT_SECRET_KEY",
            algorithm,
            HMAC_SECRET_BYTES[algorithm],
        )
    elif algorithm not in KEY_ALGORITHMS:
        raise ConfigError(
            f"JWT_ALGORITHM={algorithm!r} is not supported; use EdDSA (default), ES256, "
            "or HS256 / HS384 / HS512 with FLASK_JWT_SECRET_KEY of at least 32 / 48 / 64 bytes."
        )
    if config.get("METRICS_BEARER_TOKEN"):
        _require_strong(config["METRICS_BEARER_TOKEN"], "FLASK_METRICS_BEARER_TOKEN", "/metrics")
    if is_production(config):
        _require_strong(config.get("SECRET_KEY"), "FLASK_SECRET_KEY", "production")
        if config.get("_KEYS_DIR_DEFAULTED") and not algorithm.startswith("HS"):
            raise ConfigError(
                "Production needs its signing keys given explicitly: set KEYS_DIR to a "
                "directory made with `flask keys rotate` (e.g. a mounted secret)."
            )
        _require_shared_rate_limits(config)


def _require_shared_rate_limits(config: Mapping[str, Any]) -> None:
    """Per-worker memory counters multiply every limit by the number of workers."""
    if not config.get("RATELIMIT_ENABLED"):
        return
    if not str(config["RATELIMIT_STORAGE_URI"]).startswith("memory"):
        return
    workers = os.environ.get("WEB_CONCURRENCY", "").strip()
    many = workers.isdigit() and int(workers) > 1
    if many or not config.get("RATELIMIT_ALLOW_MEMORY_STORAGE"):
        raise ConfigError(
            "Production keeps rate-limit counters in memory, one set per worker process, "
            "which multiplies every limit by the number of workers: set REDIS_URL (or "
            "FLASK_RATELIMIT_STORAGE_URI=redis://...) so every worker shares them. With "
            "exactly one worker process, set FLASK_RATELIMIT_ALLOW_MEMORY_STORAGE=true"
            + (f" (WEB_CONCURRENCY is {workers})." if many else ".")
        )


def _check_redis(config: Mapping[str, Any]) -> None:
    """A Sentinel URL must parse; WAIT must end before the socket times out."""
    from . import redisurl

    url = config.get("REDIS_URL")
    if redisurl.is_sentinel(url):
        try:
            redisurl.parse_sentinel_url(url)
        except ValueError as error:
            raise ConfigError(f"REDIS_URL: {error}.") from None
    try:
        replicas = redisurl.min_replicas(config)
        timeout = float(config["REDIS_REPLICA_TIMEOUT"])
    except (TypeError, ValueError):
        raise ConfigError(
            "FLASK_REDIS_MIN_REPLICAS must be a whole number and "
            "FLASK_REDIS_REPLICA_TIMEOUT a number of seconds."
        ) from None
    if replicas < 0 or not 0 < timeout < float(config["REDIS_SOCKET_TIMEOUT"]):
        raise ConfigError(
            "FLASK_REDIS_MIN_REPLICAS must be 0 or more, and FLASK_REDIS_REPLICA_TIMEOUT "
            "more than 0 and less than FLASK_REDIS_SOCKET_TIMEOUT."
        )


def _require_strong(value: object, name: str, why: str, minimum: int = MIN_SECRET_BYTES) -> None:
    if not value or len(str(value).encode()) < minimum or _looks_default(value):
        raise ConfigError(
            f"{name} must be set to a random value of at least {minimum} bytes "
            f"for {why} (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
        )


def _looks_default(value: object) -> bool:
    lowered = str(value).lower()
    return any(word in lowered for word in ("change", "secret", "default", "example"))


def _sqlalchemy_url(url: str) -> str:
    """Map the usual ``postgres://`` URL forms onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_file(uri: str) -> str | None:
    """The file behind an SQLite URI, or None (another database, or in memory)."""
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:") or url.query.get("uri"):
        return None  # SQLite URI filenames: the operator's choice of mode
    return url.database


def _fill_instance_defaults(app: Flask) -> None:
    instance = Path(app.instance_path)
    config = app.config
    private_directory(instance)  # database, keys, secret: the owner's only (0700)
    engine_options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    engine_options.setdefault("hide_parameters", True)  # even when the operator sets options
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'app.sqlite'}"
    sqlite_file = _sqlite_file(config["SQLALCHEMY_DATABASE_URI"])
    if sqlite_file:
        private_sqlite_files(sqlite_file)
    if not config.get("KEYS_DIR"):
        config["KEYS_DIR"] = str(instance / "keys")
        config["_KEYS_DIR_DEFAULTED"] = True
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = config.get("REDIS_URL") or "memory://"
    if str(config["RATELIMIT_STORAGE_URI"]).startswith(
        ("redis://", "rediss://", "redis+sentinel://")
    ):
        _redis_limiter_options(config)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        _postgres_engine_options(config)
    if not config.get("SECRET_KEY") and not is_production(config):
        config["SECRET_KEY"] = _instance_secret(instance / "secret_key")


def _redis_limiter_options(config: Config) -> None:
    """Rate-limit counters: same short timeouts as the token store, same key prefix."""
    from .redisdb import limiter_storage

    uri, options = limiter_storage(config, config["RATELIMIT_STORAGE_URI"])
    options.update(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    config["RATELIMIT_STORAGE_URI"] = uri
    config["RATELIMIT_STORAGE_OPTIONS"] = options


def _postgres_engine_options(config: Config) -> None:
    """Bounded connect and TCP timeouts, so an unreachable server gives a quick 503."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", config["DATABASE_CONNECT_TIMEOUT"])
    # a server that stops acknowledging (host or network gone) fails the query in
    # seconds instead of leaving the worker waiting for gunicorn's timeout
    connect_args.setdefault("tcp_user_timeout", config["DATABASE_CONNECT_TIMEOUT"] * 1000)
    options["connect_args"] = connect_args
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _instance_secret(path: Path) -> str:
    """A development secret, made once and shared by every worker."""
    return write_once(path, secrets.token_urlsafe(48).encode()).decode().strip()
