"""Per-request telemetry: the access log and the request metrics; ``GET /metrics``.

One ``before_request`` stamps the start, one ``after_request`` (registered first,
so it runs last and sees the final status) records the latency histogram and
writes the access log line. Both come from the app, so they are the same under
every server (the servers' own access logs are off). ``ACCESS_LOG`` off
(``FLASK_ACCESS_LOG=false``) keeps the metrics and drops the access log, e.g. when
the load balancer writes one already.

``GET /metrics`` (not in the OpenAPI document: an operator endpoint):
``METRICS_ENABLED`` (default on) serves it; with ``METRICS_BEARER_TOKEN`` set only
requests carrying ``Authorization: Bearer <that token>`` get it, otherwise only
requests from a loopback address do (everyone else gets 404).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from time import perf_counter

from flask import Flask, Response, current_app, g, request

from . import errors, logs, metrics
from .headers import request_id
from .logs import access_logger, safe_path

UNMATCHED = "unmatched"


def init_app(app: Flask) -> None:
    metrics.init()
    app.before_request(_started)
    app.after_request(_finished if app.config["ACCESS_LOG"] else _measured)
    if app.config["METRICS_ENABLED"]:
        app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])


def _started() -> None:
    g.started = perf_counter()


def _finished(response: Response) -> Response:
    started = g.get("started")
    seconds = perf_counter() - started if started is not None else 0.0
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    status = response.status_code
    method = request.method
    metrics.observe_request(method, route, status, seconds)
    if access_logger.isEnabledFor(logging.INFO):
        path = request.path if rule is not None else safe_path(request.path)
        logs.access(
            f"{method} {path} {status}",
            {
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "bytes": response.content_length,
                "client": request.remote_addr,
                "request_id": request_id(),
            },
        )
    return response


def _measured(response: Response) -> Response:
    """The request metrics without the access log (``ACCESS_LOG`` off)."""
    started = g.get("started")
    seconds = perf_counter() - started if started is not None else 0.0
    rule = request.url_rule
    metrics.observe_request(
        request.method, rule.rule if rule is not None else UNMATCHED, response.status_code, seconds
    )
    return response


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _metrics_view() -> Response:
    secret = current_app.config.get("METRICS_BEARER_TOKEN")
    if secret:
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), str(secret).encode()
        ):
            return errors.unauthorized(
                "A valid metrics token is required.", token_given=bool(given)
            )
    elif not _is_loopback(request.remote_addr):
        return errors.problem(404)
    body, content_type = metrics.exposition()
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
