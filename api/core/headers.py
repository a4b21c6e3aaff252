"""Security headers on every response; a request id on every request (a WSGI middleware).

Caching: every response is ``Cache-Control: no-store`` (tokens, user data, and
errors about them must never sit in a shared or browser cache), except the
public documents: the spec, the docs page and its assets, and the JWKS.
"""

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, has_request_context, request

from .config import ConfigError

# API responses are data: nothing may load, frame or run.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# Swagger UI: only this origin's scripts and styles (its React UI sets inline styles,
# and its icons are data: URIs); "Try it out" talks to this origin only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID_KEY = "api.request_id"  # where the middleware keeps it in the WSGI environ

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


# set on every response unless the view set them already
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
_LOWER = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS)
_WATCHED = frozenset(
    {name for name, _, _ in _LOWER}
    | {"content-security-policy", "cache-control", "strict-transport-security", "x-request-id"}
)


def public_paths(app: Flask) -> tuple[str, ...]:
    """Path prefixes of the public documents, which may be cached."""
    return (
        app.config["OPENAPI_URL_PREFIX"].rstrip("/") + "/" + app.config["OPENAPI_JSON_PATH"],
        app.config["OPENAPI_SWAGGER_UI_PATH"],
        app.config["OPENAPI_SWAGGER_UI_URL"],
        (app.static_url_path or "/static") + "/",
        "/.well-known/jwks.json",
    )


def hsts_value(config: Mapping[str, Any]) -> str | None:
    """The ``Strict-Transport-Security`` value from ``HSTS_SECONDS`` (0: none)."""
    seconds = config.get("HSTS_SECONDS") or 0
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ConfigError(f"HSTS_SECONDS must be a whole number of seconds >= 0, not {seconds!r}.")
    if not seconds:
        return None
    value = f"max-age={seconds}"
    if config.get("HSTS_INCLUDE_SUBDOMAINS"):
        value += "; includeSubDomains"
    return value


def request_id() -> str | None:
    """This request's id: its ``X-Request-ID`` when well formed, else a new random one
    (the same for the whole request, and echoed on the response); None outside a request."""
    if not has_request_context():
        return None
    environ = request.environ
    value = environ.get(REQUEST_ID_KEY)
    if value is None:  # a request context made without the middleware (tests)
        value = environ[REQUEST_ID_KEY] = _request_id_for(environ)
    return value


def _request_id_for(environ: dict[str, Any]) -> str:
    given = environ.get("HTTP_X_REQUEST_ID")
    return given if given and _REQUEST_ID.fullmatch(given) else secrets.token_hex(16)


class SecureHeaders:
    """WSGI middleware: the request id, and the security headers on every response.

    It sits around Flask, so it sees every response (errors included), and adds its
    headers to the plain list passed to ``start_response``: their values are constants
    or checked here, so they skip werkzeug's per-header validation, which on a
    protected request cost about as much as the rest of this module.
    """

    def __init__(
        self, wsgi_app: WSGIApp, *, docs_path: str, cacheable: tuple[str, ...], hsts: str | None
    ) -> None:
        self.wsgi_app = wsgi_app
        self.docs_path = docs_path
        self.cacheable = cacheable
        self.hsts = hsts

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        rid = environ[REQUEST_ID_KEY] = _request_id_for(environ)
        path = "/" + environ.get("PATH_INFO", "").lstrip("/")
        forced = [("X-Request-ID", rid)]  # these replace whatever the view set
        if not path.startswith(self.cacheable):
            forced.append(("Cache-Control", "no-store"))
        if self.hsts:
            forced.append(("Strict-Transport-Security", self.hsts))
        csp = DOCS_CSP if path == self.docs_path else API_CSP

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers} & _WATCHED
            if present:
                replaced = {name.lower() for name, _ in forced}
                if present & replaced:
                    headers = [item for item in headers if item[0].lower() not in replaced]
            headers.extend((name, value) for lower, name, value in _LOWER if lower not in present)
            if "content-security-policy" not in present:
                headers.append(("Content-Security-Policy", csp))
            headers.extend(forced)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    # Flask's documented way to add WSGI middleware; mypy sees a method replaced
    app.wsgi_app = SecureHeaders(  # type: ignore[method-assign]
        app.wsgi_app,
        docs_path=app.config["OPENAPI_SWAGGER_UI_PATH"],
        cacheable=public_paths(app),
        hsts=hsts_value(app.config),
    )
