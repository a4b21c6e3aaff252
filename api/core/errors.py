"""One error contract: every error is an RFC 9457 ``application/problem+json``,
except on the OAuth 2 endpoints, whose errors are RFC 6749 §5.2 JSON
(:func:`oauth_error`; blueprints listed in ``OAUTH_BLUEPRINTS``).

Validation (422), malformed bodies (400), unknown paths (404), wrong methods
(405, with ``Allow``), rate limits (429, with ``Retry-After``), every JWT
failure (401 with ``WWW-Authenticate``, RFC 6750) and unhandled exceptions
(500, leaking nothing) and unreachable backends (503, with ``Retry-After``)
all leave through :func:`problem`.
"""

import http
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import marshmallow as ma
from flask import Flask, Response, current_app, has_request_context, json, request
from werkzeug.exceptions import HTTPException

from . import audit, metrics
from .throttle import RateLimited

if TYPE_CHECKING:
    from flask_jwt_extended import JWTManager

PROBLEM_JSON = "application/problem+json"
REALM = 'Bearer realm="api"'
# RFC 9728: where a client finds how to get a token for this API (served by api.oauth)
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
# Blueprints whose errors are RFC 6749 §5.2 JSON instead of problem+json (api.oauth adds itself)
OAUTH_BLUEPRINTS: set[str] = set()
# ... and their paths, for a request refused before routing (e.g. an untrusted Host)
OAUTH_PATH_PREFIXES: set[str] = set()

# The statuses that operations may document by reference (components/responses).
_DOCUMENTED = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)

WWW_AUTHENTICATE_DOC = {
    "description": 'RFC 6750 challenge; `error="invalid_token"` when a token was rejected; '
    "`resource_metadata` (RFC 9728) names the protected resource metadata URL.",
    "schema": {"type": "string"},
}
RETRY_AFTER_DOC = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer"},
}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(
        required=True,
        metadata={
            "description": "URI reference identifying the problem type.",
            "example": "about:blank",
        },
    )
    title = ma.fields.String(
        required=True,
        metadata={"description": "Short summary of the problem type.", "example": "Unauthorized"},
    )
    status = ma.fields.Integer(
        required=True, metadata={"description": "HTTP status code.", "example": 401}
    )
    detail = ma.fields.String(
        required=True,
        metadata={
            "description": "Explanation of this occurrence.",
            "example": "Token has expired.",
        },
    )
    instance = ma.fields.String(metadata={"description": "The request path."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "Field name to messages (422 only).",
            "example": {"password": ["Shorter than minimum length 12."]},
        },
    )


OAUTH_ERROR_CODES = (
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
    "unsupported_grant_type", "unsupported_token_type", "server_error", "temporarily_unavailable",
)  # fmt: skip


class OAuthErrorSchema(ma.Schema):
    """RFC 6749 §5.2 error response (OAuth endpoints)."""

    class Meta:
        ordered = True

    error = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(OAUTH_ERROR_CODES),
        metadata={"description": "RFC 6749 §5.2 error code.", "example": "invalid_grant"},
    )
    error_description = ma.fields.String(
        required=True,
        metadata={
            "description": "Human-readable explanation.",
            "example": "Invalid username or password.",
        },
    )


def oauth_error(
    error: str, description: str, *, status: int = 400, headers: dict[str, str] | None = None
) -> Response:
    """An RFC 6749 §5.2 JSON error (OAuth endpoints), never cached."""
    body = {"error": error, "error_description": description}
    response: Response = current_app.response_class(
        json.dumps(body), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _oauth_request() -> bool:
    if not has_request_context():
        return False
    if request.url_rule is None:  # refused before routing: judge by the path
        return request.path.startswith(tuple(OAUTH_PATH_PREFIXES))
    return request.blueprint in OAUTH_BLUEPRINTS


def _oauth_from_status(status: int, detail: str, headers: dict[str, str]) -> Response:
    """An HTTP error on an OAuth endpoint, in RFC 6749 form."""
    code = {503: "temporarily_unavailable"}.get(status, "server_error")
    if status < 500:
        code = "invalid_client" if status == 401 else "invalid_request"
    return oauth_error(code, detail, status=status, headers=headers)


def response_name(status: int) -> str:
    """The components/responses name flask-smorest uses for ``status``."""
    return http.HTTPStatus(status).name


def documented_statuses() -> list[tuple[str, http.HTTPStatus]]:
    return [(response_name(code), http.HTTPStatus(code)) for code in _DOCUMENTED]


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Response:
    """Build a problem+json response."""
    phrase = http.HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase + ".",
        "instance": request.path if request else None,
    }
    if body["instance"] is None:
        del body["instance"]
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_http_exception(error: HTTPException) -> Response:
    """Turn any werkzeug/webargs/flask-smorest HTTPException into a problem."""
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if error.code == 405:
        allow = error.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", bearer_challenge())
    if error.code == 429:
        headers.setdefault("Retry-After", str(_retry_after(error)))
        audit.event("ratelimit.hit", path=request.path, limit=str(getattr(error, "limit", "")))
    messages = data.get("errors") or data.get("messages")
    detail = data.get("message") or _detail(error)
    errors = None
    if error.code == 422 and messages:
        errors = flatten(messages)
        detail = "The request body is invalid."
    elif error.code == 400 and messages:
        detail = _first_message(messages) or detail
    if (error.code or 500) >= 500:
        detail = "The server could not complete the request."
    if _oauth_request() and error.code not in (404, 405):
        if error.code == 429:
            detail = "Too many requests; retry after the Retry-After delay."
        return _oauth_from_status(error.code or 500, detail or "Bad request.", headers)
    return problem(error.code or 500, detail, errors=errors, headers=headers)


def _detail(error: HTTPException) -> str | None:
    description = error.description or ""
    # Werkzeug's default descriptions end with a period already.
    return description if description else None


def _retry_after(error: HTTPException) -> int:
    limit: Any = getattr(error, "limit", None)  # flask-limiter's RequestLimit (untyped)
    try:
        return max(1, int(limit.limit.get_expiry()))
    except AttributeError:
        return 60


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs ``{"json": {"a": ["..."]}}`` to the contract's ``{"a": ["..."]}``."""
    if isinstance(messages, dict):
        locations = {"json", "query", "path", "headers", "form", "files", "cookies"}
        flat = {}
        for key, value in messages.items():
            name = "" if (not prefix and key in locations) else f"{prefix}{key}"
            if isinstance(value, dict):
                flat.update(flatten(value, f"{name}." if name else ""))
            else:
                flat[name or "_body"] = [str(v) for v in _as_list(value)]
        return flat
    return {prefix.rstrip(".") or "_body": [str(v) for v in _as_list(messages)]}


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_as_list(item) if isinstance(item, (list, dict)) else [item])
        return out
    if isinstance(value, dict):
        return [m for v in value.values() for m in _as_list(v)]
    return [value]


def _first_message(messages: Any) -> str | None:
    flat = flatten(messages)
    for values in flat.values():
        if values:
            return values[0]
    return None


def bearer_challenge() -> str:
    """``Bearer realm="api"`` plus, in a request, the RFC 9728 ``resource_metadata`` URL."""
    if not has_request_context():
        return REALM
    url = request.url_root.rstrip("/") + RESOURCE_METADATA_PATH
    return f'{REALM}, resource_metadata="{_quote(url)}"'


def unauthorized(detail: str, *, token_given: bool = True, status: int = 401) -> Response:
    """401 with an RFC 6750 challenge."""
    challenge = bearer_challenge()
    if token_given:
        challenge += f', error="invalid_token", error_description="{_quote(detail)}"'
    return problem(status, detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str) -> Response:
    """403 for a valid token that lacks the needed role (RFC 6750 §3.1)."""
    challenge = f'{bearer_challenge()}, error="insufficient_scope"'
    return problem(403, detail, headers={"WWW-Authenticate": challenge})


def bad_authorization(detail: str) -> Response:
    """400 for a malformed Authorization header (RFC 6750 invalid_request)."""
    challenge = (
        f'{bearer_challenge()}, error="invalid_request", error_description="{_quote(detail)}"'
    )
    return problem(400, detail, headers={"WWW-Authenticate": challenge})


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


# flask-jwt-extended callbacks taking (jwt_header, jwt_payload), with the detail they answer.
_FIXED_DETAILS = {
    "expired_token_loader": "Token has expired.",
    "revoked_token_loader": "Token has been revoked.",
    "needs_fresh_token_loader": "Fresh token required: log in again.",
    "token_verification_failed_loader": "Token verification failed.",
    "user_lookup_error_loader": "Token has been revoked.",
}


def register_jwt_loaders(jwt: "JWTManager") -> None:
    """Route every flask-jwt-extended failure through the problem contract."""
    jwt.unauthorized_loader(lambda reason: unauthorized("Missing bearer token.", token_given=False))
    jwt.invalid_token_loader(lambda reason: unauthorized(_clean_reason(reason)))
    for loader, detail in _FIXED_DETAILS.items():
        getattr(jwt, loader)(lambda header, payload, detail=detail: unauthorized(detail))


def _clean_reason(reason: str) -> str:
    """A short, safe sentence from a PyJWT / flask-jwt-extended message."""
    reason = str(reason).strip() or "Invalid token"
    lowered = reason.lower()
    if lowered.startswith("only non-refresh") or lowered.startswith("only access"):
        return "Only access tokens are allowed here."
    if lowered.startswith("only refresh"):
        return "Only refresh tokens are allowed here."
    return (reason[:200].rstrip(".") + ".").replace("\n", " ")


BACKEND_RETRY_AFTER = "1"


def backend_errors() -> tuple[type[Exception], ...]:
    """Exception classes meaning "a backend (database, Redis) cannot serve now".

    Every Redis error counts: besides connection errors and timeouts, a Redis
    out of memory (``OOM command not allowed``), a read-only replica
    (``READONLY``), one still loading its data or unable to persist (``MISCONF``)
    refuses the command and will serve it again later.
    """
    import sqlalchemy.exc

    found: tuple[type[Exception], ...] = (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
    )
    # redis-py is loaded only by an app that uses Redis (before its handlers are
    # registered): without it, no Redis error can be raised
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is not None:
        found = (redis_errors.RedisError, *found)
    return found


def error_class(error: BaseException) -> str:
    """What the logs say about a backend error: its class (and the driver's), never its
    message, which for a database error holds the SQL and could hold its values."""
    name = type(error).__name__
    original = getattr(error, "orig", None)
    return f"{name} ({type(original).__name__})" if original is not None else name


def backend_unavailable(error: Exception) -> Response:
    """503 while the database or Redis cannot be reached; the next request retries."""
    current_app.logger.warning("backend unavailable: %s", error_class(error))
    metrics.count_backend_unavailable(
        "redis" if type(error).__module__.startswith("redis") else "database"
    )
    if _oauth_request():
        return oauth_error(
            "temporarily_unavailable",
            "A backend service is unavailable; try again shortly.",
            status=503,
            headers={"Retry-After": BACKEND_RETRY_AFTER},
        )
    return problem(
        503,
        "A backend service is unavailable; try again shortly.",
        headers={"Retry-After": BACKEND_RETRY_AFTER},
    )


def too_many_requests(error: RateLimited) -> Response:
    """429 for an attempt limit of :mod:`api.core.throttle` (counted before the work)."""
    audit.event("ratelimit.hit", path=request.path, limit=error.limit)
    detail = f"Too many attempts ({error.limit}); retry later."
    headers = {"Retry-After": str(error.retry_after)}
    if _oauth_request():
        return _oauth_from_status(429, detail, headers)
    return problem(429, detail, headers=headers)


def internal_error(error: HTTPException) -> Response:
    """500, unless the failure was a backend's after the view (e.g. in an
    ``after_request`` hook such as Flask-Limiter's headers): then 503 too."""
    original = getattr(error, "original_exception", None)
    if isinstance(original, backend_errors()):
        return backend_unavailable(original)
    return from_http_exception(error)


def register(app: Flask) -> None:
    """Install the handlers that flask-smorest's HTTPException handler misses."""

    @app.errorhandler(413)
    def _too_large(error: HTTPException) -> Response:
        return from_http_exception(error)

    for exception in backend_errors():
        app.register_error_handler(exception, backend_unavailable)

    import sqlalchemy.exc

    @app.errorhandler(sqlalchemy.exc.SQLAlchemyError)
    def _database_error(error: sqlalchemy.exc.SQLAlchemyError) -> Response:
        """Any other database error: a 500 logged by class, without the statement."""
        current_app.logger.error("database error: %s", error_class(error))
        return problem(500, "The server could not complete the request.")

    app.register_error_handler(RateLimited, too_many_requests)
    app.register_error_handler(500, internal_error)
