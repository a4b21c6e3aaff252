"""Security headers on every response; a request id on every request."""

import re
import uuid

from flask import g, request

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


def init_app(app):
    docs_path = app.config["OPENAPI_SWAGGER_UI_PATH"]

    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _secure(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        csp = DOCS_CSP if request.path == docs_path else API_CSP
        headers.setdefault("Content-Security-Policy", csp)
        if "request_id" in g:
            headers["X-Request-ID"] = g.request_id
        return response
