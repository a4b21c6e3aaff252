"""Security headers on every response; a request id on every request.

Caching: every response is ``Cache-Control: no-store`` (tokens, user data, and
errors about them must never sit in a shared or browser cache), except the
public documents: the spec, the docs page and its assets, and the JWKS.
"""

import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request

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
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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


def init_app(app: Flask) -> None:
    docs_path = app.config["OPENAPI_SWAGGER_UI_PATH"]
    cacheable = public_paths(app)
    hsts = hsts_value(app.config)

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID")
        g.request_id = given if given and _REQUEST_ID.match(given) else secrets.token_hex(16)

    @app.after_request
    def _secure(response: Response) -> Response:
        # one pass over the response's headers, then one append per missing header
        # (a setdefault per header scans them all each time)
        headers = response.headers
        present = {name.lower() for name, _ in headers} & _WATCHED
        added = [(name, value) for lower, name, value in _LOWER if lower not in present]
        path = request.path
        if "content-security-policy" not in present:
            added.append(("Content-Security-Policy", DOCS_CSP if path == docs_path else API_CSP))
        forced = []  # these replace whatever the view set
        if not path.startswith(cacheable):
            forced.append(("Cache-Control", "no-store"))
        if hsts:
            forced.append(("Strict-Transport-Security", hsts))
        request_id = g.get("request_id")
        if request_id is not None:
            forced.append(("X-Request-ID", request_id))
        for name, value in forced:
            if name.lower() in present:
                headers[name] = value
            else:
                added.append((name, value))
        headers.extend(added)
        return response
