"""CORS for browser clients on other origins: an allowlist, no credentials.

``CORS_ORIGINS`` (``FLASK_CORS_ORIGINS``, a JSON list of origins such as
``["https://app.example.com"]``) is empty by default: no CORS headers at all, so
browsers keep other origins' scripts out. Listed origins may send the bearer
token (``Authorization``) and JSON bodies (preflight answered, cached 10
minutes) and read the headers clients need. Credentials mode (cookies) stays
off: tokens travel in the ``Authorization`` header only.
"""

from __future__ import annotations

import re

from flask import Flask, Response

from .config import ConfigError

_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)
ALLOW_HEADERS = ["Authorization", "Content-Type", "X-Request-ID"]
EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "WWW-Authenticate", "X-Pagination"]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE"]
MAX_AGE = 600


def origins(value: object) -> list[str]:
    """The configured allowlist, checked: exact ``scheme://host[:port]`` origins."""
    if value in (None, "", []):
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(
            "CORS_ORIGINS must be a JSON list of origins, e.g. "
            "FLASK_CORS_ORIGINS='[\"https://app.example.com\"]'."
        )
    checked = []
    for origin in value:
        if not isinstance(origin, str) or not _ORIGIN.match(origin):
            raise ConfigError(
                f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path, "
                "no trailing slash, no wildcard)."
            )
        checked.append(origin)
    return checked


def init_app(app: Flask) -> None:
    allowed = origins(app.config.get("CORS_ORIGINS"))
    if not allowed:
        return
    from flask_cors import CORS

    CORS(
        app,
        resources={r"/*": {}},
        origins=allowed,
        methods=METHODS,
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        supports_credentials=False,
        max_age=MAX_AGE,
        send_wildcard=False,
        vary_header=True,
        allow_private_network=False,
    )

    @app.after_request
    def _vary(response: Response) -> Response:
        # whether an answer carries Access-Control-Allow-Origin depends on Origin, even
        # with one allowed origin (flask-cors adds Vary only for several): tell caches
        response.vary.add("Origin")
        return response
