"""JWT authentication REST API (Flask, flask-smorest, flask-jwt-extended)."""

__version__ = "1.0.0"

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as settings
from . import database, docs, errors, headers, redisdb, security
from .extensions import api, db, jwt, limiter, migrate
from .passwords import Passwords


def create_app(config=None):
    """Create and configure an app instance (Flask's application factory).

    ``config`` is a mapping applied last, after the environment (tests use it);
    ``INSTANCE_PATH`` in it or in the environment moves the instance folder.
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    settings.load(app, config)
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    redisdb.init_app(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=database.MIGRATIONS)
    jwt.init_app(app)
    limiter.init_app(app)
    api.init_app(app)

    from .tokens import service as tokens
    from .tokens import signing

    app.extensions["passwords"] = Passwords(app.config)
    signing.init_app(app, jwt)
    tokens.init_app(app)
    errors.register(app)
    headers.init_app(app)
    errors.register_jwt_loaders(jwt)
    security.init_app(app, api, jwt)
    _register_blueprints(app)
    _register_commands(app)
    database.init_app(app)
    return app


def _register_blueprints(app):
    from .auth.routes import blp as auth
    from .health.routes import blp as meta
    from .protected.routes import blp as protected
    from .users.routes import blp as users

    for blueprint in (auth, users, protected, meta):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.assets)


def _register_commands(app):
    from .tokens.cli import keys_cli, tokens_cli
    from .users.cli import users_cli

    for group in (users_cli, keys_cli, tokens_cli):
        app.cli.add_command(group)
