"""One error contract: every error is an RFC 9457 ``application/problem+json``.

Validation (422), malformed bodies (400), unknown paths (404), wrong methods
(405, with ``Allow``), rate limits (429, with ``Retry-After``), every JWT
failure (401 with ``WWW-Authenticate``, RFC 6750) and unhandled exceptions
(500, leaking nothing) and unreachable backends (503, with ``Retry-After``)
all leave through :func:`problem`.
"""

import http

import marshmallow as ma
from flask import current_app, json, request

from . import audit

PROBLEM_JSON = "application/problem+json"
REALM = 'Bearer realm="api"'

# The statuses that operations may document by reference (components/responses).
_DOCUMENTED = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)

WWW_AUTHENTICATE_DOC = {
    "description": 'RFC 6750 challenge; `error="invalid_token"` when a token was rejected.',
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


def response_name(status):
    """The components/responses name flask-smorest uses for ``status``."""
    return http.HTTPStatus(status).name


def documented_statuses():
    return [(response_name(code), http.HTTPStatus(code)) for code in _DOCUMENTED]


def problem(status, detail=None, *, errors=None, headers=None, title=None):
    """Build a problem+json response."""
    phrase = http.HTTPStatus(status).phrase
    body = {
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


def from_http_exception(error):
    """Turn any werkzeug/webargs/flask-smorest HTTPException into a problem."""
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if error.code == 405:
        allow = error.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", REALM)
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
    if error.code >= 500:
        detail = "The server could not complete the request."
    return problem(error.code or 500, detail, errors=errors, headers=headers)


def _detail(error):
    description = error.description or ""
    # Werkzeug's default descriptions end with a period already.
    return description if description else None


def _retry_after(error):
    limit = getattr(error, "limit", None)
    try:
        return max(1, int(limit.limit.get_expiry()))
    except AttributeError:
        return 60


def flatten(messages, prefix=""):
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


def _as_list(value):
    if isinstance(value, list):
        out = []
        for item in value:
            out.extend(_as_list(item) if isinstance(item, (list, dict)) else [item])
        return out
    if isinstance(value, dict):
        return [m for v in value.values() for m in _as_list(v)]
    return [value]


def _first_message(messages):
    flat = flatten(messages)
    for values in flat.values():
        if values:
            return values[0]
    return None


def unauthorized(detail, *, token_given=True, status=401):
    """401 with an RFC 6750 challenge."""
    challenge = REALM
    if token_given:
        challenge += f', error="invalid_token", error_description="{_quote(detail)}"'
    return problem(status, detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail):
    """403 for a valid token that lacks the needed role (RFC 6750 §3.1)."""
    challenge = f'{REALM}, error="insufficient_scope"'
    return problem(403, detail, headers={"WWW-Authenticate": challenge})


def bad_authorization(detail):
    """400 for a malformed Authorization header (RFC 6750 invalid_request)."""
    challenge = f'{REALM}, error="invalid_request", error_description="{_quote(detail)}"'
    return problem(400, detail, headers={"WWW-Authenticate": challenge})


def _quote(text):
    return text.replace("\\", "").replace('"', "'")


# flask-jwt-extended callbacks taking (jwt_header, jwt_payload), with the detail they answer.
_FIXED_DETAILS = {
    "expired_token_loader": "Token has expired.",
    "revoked_token_loader": "Token has been revoked.",
    "needs_fresh_token_loader": "Fresh token required: log in again.",
    "token_verification_failed_loader": "Token verification failed.",
    "user_lookup_error_loader": "Token has been revoked.",
}


def register_jwt_loaders(jwt):
    """Route every flask-jwt-extended failure through the problem contract."""
    jwt.unauthorized_loader(lambda reason: unauthorized("Missing bearer token.", token_given=False))
    jwt.invalid_token_loader(lambda reason: unauthorized(_clean_reason(reason)))
    for loader, detail in _FIXED_DETAILS.items():
        getattr(jwt, loader)(lambda header, payload, detail=detail: unauthorized(detail))


def _clean_reason(reason):
    """A short, safe sentence from a PyJWT / flask-jwt-extended message."""
    reason = str(reason).strip() or "Invalid token"
    lowered = reason.lower()
    if lowered.startswith("only non-refresh") or lowered.startswith("only access"):
        return "Only access tokens are allowed here."
    if lowered.startswith("only refresh"):
        return "Only refresh tokens are allowed here."
    return (reason[:200].rstrip(".") + ".").replace("\n", " ")


BACKEND_RETRY_AFTER = "1"


def backend_errors():
    """Exception classes meaning "a backend (database, Redis) is unreachable"."""
    import redis.exceptions
    import sqlalchemy.exc

    return (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
    )


def backend_unavailable(error):
    """503 while the database or Redis cannot be reached; the next request retries."""
    current_app.logger.warning("backend unavailable: %s: %s", type(error).__name__, error)
    return problem(
        503,
        "A backend service is unavailable; try again shortly.",
        headers={"Retry-After": BACKEND_RETRY_AFTER},
    )


def register(app):
    """Install the handlers that flask-smorest's HTTPException handler misses."""

    @app.errorhandler(413)
    def _too_large(error):
        return from_http_exception(error)

    for exception in backend_errors():
        app.register_error_handler(exception, backend_unavailable)
