"""api.core.extensions and api.core.flaskapp: where Flask-Limiter's hooks run; ensure_sync."""

import ast
import asyncio
from pathlib import Path

import pytest
from flask import Flask
from helpers import close_app

from api import create_app
from api.core.extensions import EVERY_ROUTE, limiter
from api.core.flaskapp import App

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def limiter_hooks(app, blueprint):
    """Flask-Limiter's own request hooks registered for ``blueprint`` (None: app-wide)."""
    found = []
    for kind in KINDS:
        for hook in getattr(app, kind).get(blueprint, ()):
            owner = getattr(hook, "__self__", None) or next(iter(getattr(hook, "args", ())), None)
            if owner is limiter:
                found.append(kind)
    return found


def test_flask_limiter_runs_only_on_the_blueprints_with_limits(config):
    app = create_app({**config, "RATELIMIT_ENABLED": True})
    try:
        assert limiter_hooks(app, None) == []
        for blueprint in ("auth", "oauth"):
            assert limiter_hooks(app, blueprint) == list(KINDS)
        for blueprint in ("protected", "users", "sessions", "mfa", "meta"):
            assert limiter_hooks(app, blueprint) == []
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATELIMIT_DEFAULT", "100 per minute"),
        ("RATELIMIT_APPLICATION", "100 per minute"),
        ("RATELIMIT_META", "100 per minute"),
        ("RATELIMIT_HEADERS_ENABLED", True),
    ],
)
def test_a_limit_on_every_route_keeps_the_hooks_app_wide(config, name, value):
    assert name in EVERY_ROUTE
    app = create_app({**config, "RATELIMIT_ENABLED": True, name: value})
    try:
        assert limiter_hooks(app, None) == list(KINDS)
        assert limiter_hooks(app, "auth") == []
    finally:
        close_app(app)


def test_limits_on_every_route_apply_to_routes_without_their_own(config):
    app = create_app({**config, "RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": "2 per minute"})
    try:
        client = app.test_client()
        assert [client.get("/livez").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        close_app(app)


def test_an_earlier_app_s_limit_on_every_route_is_not_kept(config):
    first = create_app({**config, "RATELIMIT_ENABLED": True, "RATELIMIT_DEFAULT": "1 per minute"})
    close_app(first)
    app = create_app({**config, "RATELIMIT_ENABLED": True})
    try:
        client = app.test_client()
        assert [client.get("/livez").status_code for _ in range(3)] == [200, 200, 200]
    finally:
        close_app(app)


def test_every_flask_limiter_limit_is_declared_through_limit_view():
    """``scope_hooks`` finds the limited views by the mark ``limit_view`` leaves."""
    offenders = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("limit", "shared_limit")
                and isinstance(node.value, ast.Name)
                and node.value.id == "limiter"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def plain(value):
    return value


class View:
    def get(self):
        return "got"


async def coroutine():
    return "awaited"


def test_ensure_sync_returns_plain_functions_and_methods_as_they_are():
    app = App(__name__)
    assert app.ensure_sync(plain) is plain
    method = View().get
    assert app.ensure_sync(method) is method


@pytest.mark.parametrize("marked", [False, True])
def test_ensure_sync_hands_anything_else_to_flask(monkeypatch, marked):
    seen = []
    monkeypatch.setattr(Flask, "ensure_sync", lambda self, func: seen.append(func) or "flask's")
    if marked:  # a plain function marked as a coroutine function (inspect, Python 3.12+)

        def func():
            return asyncio.sleep(0)

        func._is_coroutine_marker = True
    else:
        func = coroutine
    assert App(__name__).ensure_sync(func) == "flask's"
    assert seen == [func]
