"""Settings: safe development defaults, overridden from the environment.

Precedence (last wins): the defaults below, ``DATABASE_URL`` / ``REDIS_URL`` /
``APP_ENV`` / ``KEYS_DIR`` by their usual names, every ``FLASK_*`` variable
through :meth:`flask.Config.from_prefixed_env`, then the mapping given to
``create_app(config)``.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from . import __version__
from .files import write_once

PRODUCTION_NAMES = {"production", "prod"}
MIN_SECRET_BYTES = 32

DEFAULTS = {
    "APP_ENV": "development",
    "SQLALCHEMY_DATABASE_URI": None,  # instance/app.sqlite when unset
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "REDIS_URL": None,
    "REDIS_KEY_PREFIX": "jwtauth:",
    "REDIS_SOCKET_TIMEOUT": 1.0,  # seconds; a hung Redis gives 503, not a hang
    "REDIS_CONNECT_TIMEOUT": 1.0,
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
    "VERIFIED_TOKEN_CACHE_SIZE": 4096,  # tokens whose signature a worker checked (0: off)
    "TRUSTED_PROXIES": 0,  # reverse proxies in front whose X-Forwarded-For/-Proto to trust
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
                "Every error is RFC 9457 `application/problem+json`. Use **Authorize** with "
                "the `access_token` from `POST /auth/login`."
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
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_LOGIN": "10 per minute",
    "RATELIMIT_LOGIN_USERNAME": "5 per minute",
    "RATELIMIT_REGISTER": "10 per hour",
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app refuses to start."""


def load(app, overrides=None):
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
    _fill_instance_defaults(app)
    check(app.config)


def is_production(config):
    """Whether the app runs with production guards on."""
    return str(config.get("APP_ENV", "")).lower() in PRODUCTION_NAMES


def check(config):
    """Refuse unsafe settings: in production, any weak or default secret."""
    algorithm = config["JWT_ALGORITHM"]
    if algorithm.startswith("HS"):
        _require_strong(config.get("JWT_SECRET_KEY"), "FLASK_JWT_SECRET_KEY", algorithm)
    elif algorithm not in {"EdDSA", "ES256"}:
        raise ConfigError(
            f"JWT_ALGORITHM={algorithm!r} is not supported; use EdDSA (default), "
            "ES256, or HS256 with FLASK_JWT_SECRET_KEY of at least 32 bytes."
        )
    if is_production(config):
        _require_strong(config.get("SECRET_KEY"), "FLASK_SECRET_KEY", "production")
        if config.get("_KEYS_DIR_DEFAULTED") and not algorithm.startswith("HS"):
            raise ConfigError(
                "Production needs its signing keys given explicitly: set KEYS_DIR to a "
                "directory made with `flask keys rotate` (e.g. a mounted secret)."
            )


def _require_strong(value, name, why):
    if not value or len(str(value).encode()) < MIN_SECRET_BYTES or _looks_default(value):
        raise ConfigError(
            f"{name} must be set to a random value of at least {MIN_SECRET_BYTES} bytes "
            f"for {why} (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
        )


def _looks_default(value):
    lowered = str(value).lower()
    return any(word in lowered for word in ("change", "secret", "default", "example"))


def _sqlalchemy_url(url):
    """Map the usual ``postgres://`` URL forms onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _fill_instance_defaults(app):
    instance = Path(app.instance_path)
    config = app.config
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'app.sqlite'}"
    if not config.get("KEYS_DIR"):
        config["KEYS_DIR"] = str(instance / "keys")
        config["_KEYS_DIR_DEFAULTED"] = True
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = config.get("REDIS_URL") or "memory://"
    if str(config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        _redis_limiter_options(config)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        _postgres_engine_options(config)
    if not config.get("SECRET_KEY") and not is_production(config):
        config["SECRET_KEY"] = _instance_secret(instance / "secret_key")


def _redis_limiter_options(config):
    """Rate-limit counters: same short timeouts as the token store, same key prefix."""
    from .redisdb import client_options

    options = {"key_prefix": config["REDIS_KEY_PREFIX"] + "limits", **client_options(config)}
    options.update(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    config["RATELIMIT_STORAGE_OPTIONS"] = options


def _postgres_engine_options(config):
    """Bounded connect and TCP timeouts, so an unreachable server gives a quick 503."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", config["DATABASE_CONNECT_TIMEOUT"])
    # a server that stops acknowledging (host or network gone) fails the query in
    # seconds instead of leaving the worker waiting for gunicorn's timeout
    connect_args.setdefault("tcp_user_timeout", config["DATABASE_CONNECT_TIMEOUT"] * 1000)
    options["connect_args"] = connect_args
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _instance_secret(path):
    """A development secret, made once and shared by every worker."""
    return write_once(path, secrets.token_urlsafe(48).encode()).decode().strip()
