"""JWT authentication REST API (Flask, flask-smorest, flask-jwt-extended).

This module is the composition root: it alone knows every package. ``core``
is the infrastructure; ``tokens``, ``users``, ``mfa``, ``auth``, ``sessions``,
``oauth``, ``health`` and ``protected`` are features built on it (tests/test_layers.py
keeps it so).
"""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .core import config as settings
from .core import (
    cors,
    database,
    docs,
    errors,
    headers,
    jsonbody,
    logs,
    observability,
    redisguard,
    throttle,
)
from .core.extensions import api, db, jwt, limiter
from .core.flaskapp import App
from .version import __version__

__all__ = ["__version__", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure an app instance (Flask's application factory).

    ``config`` is a mapping applied last, after the environment (tests use it);
    ``INSTANCE_PATH`` in it or in the environment moves the instance folder
    (a relative path is taken from the working directory).
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = App(__name__, instance_path=instance_path, instance_relative_config=True)
    app.json = jsonbody.StrictJSONProvider(app)  # request.get_json parses like the routes
    settings.load(app, config)
    if not app.testing and database.starts_a_server():
        logs.configure_unless_configured()  # the audit and access logs reach stdout
    # first: their before_request hooks run first (request id, start time) and the
    # access log's after_request last (it sees the final response)
    observability.init_app(app)
    headers.init_app(app)
    cors.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        # Flask's documented way to add WSGI middleware; mypy sees a method replaced
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )
    if app.config.get("REDIS_URL"):  # redis-py is loaded only by an app that uses it
        from .core import redisdb

        redisdb.init_app(app)
    redisguard.init_app(app)

    db.init_app(app)
    jwt.init_app(app)
    limiter.init_app(app)
    throttle.init_app(app)
    api.init_app(app)

    from .mfa import service as mfa
    from .tokens import security, signing
    from .tokens import service as tokens
    from .users.passwords import Passwords

    app.extensions["passwords"] = Passwords(app.config)
    signing.init_app(app, jwt)
    tokens.init_app(app)
    mfa.init_app(app)
    errors.register(app)
    errors.register_jwt_loaders(jwt)
    security.init_app(app, api)
    _register_blueprints(app)
    limiter.scope_hooks(app)
    _register_commands(app)
    database.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from .auth.routes import blp as auth
    from .health.routes import blp as meta
    from .mfa.routes import blp as mfa
    from .oauth.routes import blp as oauth
    from .protected.routes import blp as protected
    from .sessions.routes import blp as sessions
    from .users.routes import blp as users

    for blueprint in (auth, users, mfa, sessions, protected, oauth, meta):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.assets)


def _register_commands(app: Flask) -> None:
    from .oauth.cli import clients_cli
    from .tokens.cli import keys_cli, tokens_cli
    from .users.cli import users_cli

    for group in (users_cli, keys_cli, tokens_cli, clients_cli):
        app.cli.add_command(group)
