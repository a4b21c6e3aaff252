"""The one way to protect an operation: enforce the JWT and document it.

``@blp.auth_required()`` (see :class:`api.extensions.Blueprint`) wraps the view
so that a valid, unrevoked bearer token is required, and adds to the same
operation's OpenAPI document the ``bearerAuth`` requirement and its 400, 401,
503 (and, with roles, 403) responses. A route cannot get one without the other.
"""

from functools import wraps

from flask import current_app, request
from flask.sessions import SessionInterface
from flask_jwt_extended import get_jwt

from . import errors
from .tokens import verified

SCHEME = "bearerAuth"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from `POST /auth/login` (a refresh token for "
    "`POST /auth/refresh`), sent as `Authorization: Bearer <token>`.",
}


class NoSessions(SessionInterface):
    """Bearer tokens only: no cookie session is read, signed or set on any request."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


class InsufficientRole(Exception):
    """A valid token without the role an operation needs (403)."""


class MalformedAuthorization(Exception):
    """An ``Authorization`` header too large to be a token (400)."""


def auth_required(blp, *, refresh=False, fresh=False, roles=()):
    """Decorator factory: require a bearer JWT and document that requirement."""
    roles = frozenset(roles)

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            _check_header_size()
            cache = current_app.extensions["verified_tokens"]
            verified.verify_request(cache, fresh=fresh, refresh=refresh)
            if roles and not roles <= set(get_jwt().get("roles") or ()):
                raise InsufficientRole("This operation needs the role: " + ", ".join(sorted(roles)))
            return func(*args, **kwargs)

        wrapper._auth_required = {"refresh": refresh, "fresh": fresh, "roles": sorted(roles)}
        documented = blp.doc(security=[{SCHEME: []}])(wrapper)
        # 503: the revocation check needs the token store (database or Redis)
        statuses = (400, 401, 403, 503) if roles else (400, 401, 503)
        for status in statuses:
            documented = blp.alt_response(status, response=errors.response_name(status))(documented)
        return documented

    return decorator


def _check_header_size():
    header = request.headers.get("Authorization", "")
    if len(header) > current_app.config["MAX_AUTHORIZATION_HEADER_BYTES"]:
        raise MalformedAuthorization("The Authorization header is too large.")


def init_app(app, api, jwt):
    """Register the scheme, the revocation check and the 400/403 handlers."""
    from .tokens import service

    api.spec.components.security_scheme(SCHEME, SECURITY_SCHEME)
    app.session_interface = NoSessions()
    app.extensions["verified_tokens"] = verified.VerifiedTokens(
        app.config["VERIFIED_TOKEN_CACHE_SIZE"]
    )

    @jwt.token_in_blocklist_loader
    def _revoked(header, claims):
        return service.is_revoked(claims)

    app.register_error_handler(InsufficientRole, lambda e: errors.forbidden(str(e)))
    app.register_error_handler(MalformedAuthorization, lambda e: errors.bad_authorization(str(e)))
