"""Extensions, created once here and initialised in :func:`api.create_app`."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import flask_smorest
from apispec import BasePlugin
from flask import Flask, Response
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import HTTPException

from . import errors
from .jsonbody import StrictParser

PROBLEM_JSON = errors.PROBLEM_JSON
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


if TYPE_CHECKING:  # the same function (flask-smorest re-exports it), with its types
    from webargs.flaskparser import abort as abort
else:
    from flask_smorest import abort as abort


class Api(flask_smorest.Api):  # type: ignore[misc]  # flask-smorest is untyped (Any base)
    """flask-smorest ``Api`` speaking RFC 9457 problem+json for every error.

    No catch-all ``default`` response: each operation documents the statuses
    it really returns, so an undocumented status is a contract violation.
    """

    ERROR_SCHEMA = errors.ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:
        return errors.from_http_exception(error)

    def _register_responses(self) -> None:
        """Register the shared error responses with the problem+json media type."""
        for name, status in errors.documented_statuses():
            response: dict[str, Any] = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            if status == 401:
                response["headers"] = {"WWW-Authenticate": errors.WWW_AUTHENTICATE_DOC}
            if status in (429, 503):
                response["headers"] = {"Retry-After": errors.RETRY_AFTER_DOC}
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(name, response, lazy=True)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest is untyped
    """Blueprint whose request bodies document 400/413/503.

    Every operation with a JSON body writes to a backend (database, Redis), so
    it may answer 503 while one is unreachable. Protected operations use the
    subclass in :mod:`api.tokens.security`, which adds ``auth_required``.
    JSON bodies are parsed strictly (:mod:`api.core.jsonbody`): 400, never 500.
    """

    ARGUMENTS_PARSER = StrictParser()

    if TYPE_CHECKING:  # flask-smorest is untyped: what its decorators do, for mypy

        def route(self, rule: str, **options: Any) -> Callable[[T], T]: ...
        def doc(self, **kwargs: Any) -> Callable[[F], F]: ...
        def response(
            self, status_code: int, schema: Any = None, **kwargs: Any
        ) -> Callable[[F], F]: ...
        def alt_response(self, status_code: int, **kwargs: Any) -> Callable[[F], F]: ...
        def paginate(self, pager: Any = None, **kwargs: Any) -> Callable[[F], F]: ...

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Callable[[F], F]:
        decorator: Callable[[F], F] = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def wrapper(func: F) -> F:
            func = decorator(func)
            for status in (400, 413, 503):
                func = self.alt_response(status, response=errors.response_name(status))(func)
            return func

        return wrapper

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        """``X-Pagination`` carries JSON, so document it with ``content``, not a
        ``simple``-style object ``schema`` (which means ``k,v,k,v`` on the wire)."""
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata (a JSON object).",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }


class SchemaExtras(BasePlugin):
    """A marshmallow schema's ``OPENAPI_EXTRA`` dict is merged into its component.

    For what marshmallow cannot say, e.g. ``oneOf`` lists of required fields.
    """

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        extra = getattr(schema, "OPENAPI_EXTRA", None)
        return dict(extra) if extra else None


class Model(DeclarativeBase):
    """Declarative base for the SQLAlchemy models."""


api = Api(spec_kwargs={"extra_plugins": [SchemaExtras()]})
db = SQLAlchemy(model_class=Model)

# Models subclass ``BaseModel``: Flask-SQLAlchemy's ``db.Model`` at run time, which type
# checkers cannot see through, and its declarative base for them.
if TYPE_CHECKING:
    BaseModel = Model
else:
    BaseModel = db.Model
jwt = JWTManager()


class AppLimiter(Limiter):
    """Flask-Limiter whose settings are each app's own, and whose hooks run only where needed.

    Flask-Limiter merges every ``init_app``'s ``RATELIMIT_STORAGE_OPTIONS`` into
    one dict kept on the extension, so a second app in the same process (tests,
    a CLI) would get the first one's options too (a Sentinel's ``sentinel_kwargs``
    passed to a plain Redis client fails). The same holds for the limits on every
    route (``RATELIMIT_DEFAULT``, ``_APPLICATION``, ``_META``): the first app's
    would stay for every later one, so each ``init_app`` starts from none.
    """

    def init_app(self, app: Flask) -> None:
        self._storage_options = {}
        self.limit_manager.set_default_limits([])
        self.limit_manager.set_application_limits([])
        self._meta_limits = []
        before = _hooks(app)
        super().init_app(app)
        app.extensions[LIMITER_HOOKS] = {
            kind: [hook for hook in found if hook not in before[kind]]
            for kind, found in _hooks(app).items()
        }

    def limit_view(self, limit_value: Callable[[], str], **kwargs: Any) -> Callable[[F], F]:
        """``limit``, marking the view as rate limited (see :meth:`scope_hooks`).

        Every Flask-Limiter limit in the app is declared through this
        (tests/test_extensions.py keeps it so).
        """
        decorate = self.limit(limit_value, **kwargs)

        def apply(view: F) -> F:
            limited = decorate(view)
            limited.rate_limited = True  # type: ignore[attr-defined]
            return cast(F, limited)

        return apply

    def scope_hooks(self, app: Flask) -> None:
        """Run Flask-Limiter's request hooks only on the blueprints that have limits.

        Flask-Limiter registers a before, an after and a teardown hook on the app;
        with no limit on every route (``RATELIMIT_DEFAULT``, ``_APPLICATION``,
        ``_META``) and no rate-limit headers, they find nothing to do on a route
        without a limit, yet cost a protected request about a fifth of its CPU. The
        decorated views check their own limits; the hooks stay for the after-request
        work (``deduct_when``) of the blueprints that have such views. Call it
        once every blueprint is registered.
        """
        hooks = app.extensions.pop(LIMITER_HOOKS)
        if any(app.config.get(name) for name in EVERY_ROUTE):
            return
        blueprints = {
            endpoint.rpartition(".")[0]
            for endpoint, view in app.view_functions.items()
            if getattr(view, "rate_limited", False)
        }
        if "" in blueprints:  # a limited view outside any blueprint: keep them app-wide
            return
        for kind, found in hooks.items():
            registry: dict[str | None, list[Any]] = getattr(app, kind)
            registry[None] = [hook for hook in registry[None] if hook not in found]
            for name in sorted(blueprints):
                registry.setdefault(name, []).extend(found)


# Flask-Limiter settings that need its hooks on every request
EVERY_ROUTE = (
    "RATELIMIT_DEFAULT",
    "RATELIMIT_APPLICATION",
    "RATELIMIT_META",
    "RATELIMIT_HEADERS_ENABLED",
)
LIMITER_HOOKS = "flask_limiter_hooks"
_HOOK_KINDS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def _hooks(app: Flask) -> dict[str, list[Any]]:
    """The app-wide request hooks, by kind."""
    return {kind: list(getattr(app, kind).get(None, ())) for kind in _HOOK_KINDS}


limiter = AppLimiter(key_func=get_remote_address, default_limits=[])
