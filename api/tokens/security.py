"""The one way to protect an operation: enforce the JWT and document it.

``@blp.auth_required()`` (see :class:`Blueprint` below) wraps the view
so that a valid, unrevoked bearer token is required, and adds to the same
operation's OpenAPI document the ``bearerAuth`` requirement and its 400, 401,
503 (and, with roles, 403) responses. A route cannot get one without the other.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Flask, Request, Response, current_app, request
from flask.sessions import SessionInterface, SessionMixin

from ..core import errors, extensions
from . import service, verified
from .verified import claims as current_claims

__all__ = ["Blueprint", "current_claims", "init_app"]

View = Callable[..., Any]

SCHEME = "bearerAuth"
OAUTH2_SCHEME = "oauth2"  # the same bearer tokens, obtained through POST /oauth/token
CLIENT_SCHEME = "oauthClient"  # registered OAuth clients (introspection), HTTP Basic
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from `POST /auth/login` (a refresh token for "
    "`POST /auth/refresh`), sent as `Authorization: Bearer <token>`.",
}


OAUTH2_SECURITY_SCHEME = {
    "type": "oauth2",
    "description": "The same access token, from the OAuth 2 password grant of "
    "`POST /oauth/token` (first-party tools; the server may turn it off).",
    "flows": {"password": {"tokenUrl": "/oauth/token", "refreshUrl": "/oauth/token", "scopes": {}}},
}
CLIENT_SECURITY_SCHEME = {
    "type": "http",
    "scheme": "basic",
    "description": "A registered OAuth client (`flask clients create NAME`): client id and secret.",
}


class NoSessions(SessionInterface):
    """Bearer tokens only: no cookie session is read, signed or set on any request."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


class Blueprint(extensions.Blueprint):
    """The core Blueprint plus the security decorator ``auth_required``."""

    def auth_required(
        self, *, refresh: bool = False, fresh: bool = False, roles: Iterable[str] = ()
    ) -> Callable[[View], View]:
        """Require a bearer JWT on an operation and document it."""
        return auth_required(self, refresh=refresh, fresh=fresh, roles=roles)


class InsufficientRole(Exception):
    """A valid token without the role an operation needs (403)."""


class MalformedAuthorization(Exception):
    """An ``Authorization`` header too large to be a token (400)."""


def auth_required(
    blp: Blueprint,
    *,
    refresh: bool = False,
    fresh: bool = False,
    roles: Iterable[str] = (),
) -> Callable[[View], View]:
    """Decorator factory: require a bearer JWT and document that requirement."""
    needed = frozenset(roles)

    def decorator(func: View) -> View:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _check_header_size()
            cache = current_app.extensions["verified_tokens"]
            claims = verified.verify_request(
                cache, fresh=fresh, refresh=refresh, is_revoked=service.is_revoked
            )
            if needed and not needed <= set(claims.get("roles") or ()):
                names = ", ".join(sorted(needed))
                raise InsufficientRole(f"This operation needs the role: {names}")
            return func(*args, **kwargs)

        wrapper._auth_required = {  # type: ignore[attr-defined]
            "refresh": refresh,
            "fresh": fresh,
            "roles": sorted(needed),
        }
        # a refresh token only comes from a login: the oauth2 flow yields access tokens
        security: list[dict[str, list[str]]] = (
            [{SCHEME: []}] if refresh else [{SCHEME: []}, {OAUTH2_SCHEME: []}]
        )
        documented: View = blp.doc(security=security)(wrapper)
        # 503: the revocation check needs the token store (database or Redis)
        statuses = (400, 401, 403, 503) if needed else (400, 401, 503)
        for status in statuses:
            documented = blp.alt_response(status, response=errors.response_name(status))(documented)
        return documented

    return decorator


def _check_header_size() -> None:
    header = request.headers.get("Authorization", "")
    if len(header) > current_app.config["MAX_AUTHORIZATION_HEADER_BYTES"]:
        raise MalformedAuthorization("The Authorization header is too large.")


# Flask-Limiter settings that put limits on every route
_GLOBAL_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")


def skips_flask_limiter() -> bool:
    """Flask-Limiter request filter: True on a bearer-token operation when no global limit is set.

    No Flask-Limiter limit is declared on an ``auth_required`` operation
    (tests/test_security.py keeps it so), so its before/after-request work there
    only finds nothing to count: about a third of a protected request's own CPU.
    Any default or application limit in the settings turns this off.
    """
    app = current_app
    key = (request.endpoint, request.method)
    known: dict[tuple[str | None, str], bool] = app.extensions["flask_limiter_skips"]
    skip = known.get(key)
    if skip is None:
        skip = known[key] = is_auth_required(app, *key) and not any(
            app.config.get(name) for name in _GLOBAL_LIMITS
        )
    return skip


def is_auth_required(app: Flask, endpoint: str | None, method: str) -> bool:
    """Whether ``method`` on ``endpoint`` is an operation wrapped by ``auth_required``."""
    view = app.view_functions.get(endpoint or "")
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class else view
    return hasattr(handler, "_auth_required")


extensions.limiter.request_filter(skips_flask_limiter)


def init_app(app: Flask, api: extensions.Api) -> None:
    """Register the scheme, the token cache and the 400/401/403 handlers."""
    api.spec.components.security_scheme(SCHEME, SECURITY_SCHEME)
    api.spec.components.security_scheme(OAUTH2_SCHEME, OAUTH2_SECURITY_SCHEME)
    api.spec.components.security_scheme(CLIENT_SCHEME, CLIENT_SECURITY_SCHEME)
    app.session_interface = NoSessions()
    app.extensions["verified_tokens"] = verified.VerifiedTokens(
        app.config["VERIFIED_TOKEN_CACHE_SIZE"]
    )
    app.extensions["flask_limiter_skips"] = {}

    app.register_error_handler(verified.Rejected, _rejected)
    app.register_error_handler(InsufficientRole, lambda e: errors.forbidden(str(e)))
    app.register_error_handler(MalformedAuthorization, lambda e: errors.bad_authorization(str(e)))


def _rejected(error: verified.Rejected) -> Response:
    return errors.unauthorized(error.detail, token_given=error.token_given)
