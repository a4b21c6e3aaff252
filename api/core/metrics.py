"""Prometheus metrics, correct across worker processes.

``GET /metrics`` (Prometheus text format) serves:

- ``http_request_duration_seconds{method,route,status}``: a latency histogram per
  route template (never the raw path) and status; its ``_count`` is the request count;
- ``jwtauth_security_events_total{event}``: every audit event by name (``login.success``,
  ``login.failure``, ``ratelimit.hit``, ``refresh.reuse_detected``, ...);
- ``jwtauth_revocations_total{reason}``: the audit events that revoke tokens;
- ``jwtauth_backend_unavailable_total{backend}``: requests answered 503 because the
  database or Redis could not be reached.

Under several worker processes each process writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and
``/metrics`` adds them up: :func:`prepare_multiprocess_dir` must run before any
worker starts (``jwt-auth-api serve`` and ``gunicorn.conf.py`` call it).
prometheus_client is imported only when the app is created, after that.
The endpoint and who may read it: :mod:`api.core.observability`.
"""

from __future__ import annotations

import glob
import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# audit events that revoke tokens, and the reason label they count under
REVOKING = {
    "logout": "logout",
    "password.changed": "password_change",
    "user.deleted": "user_deleted",
    "refresh.reuse_detected": "refresh_reuse",
}


def prepare_multiprocess_dir() -> str:
    """Make ``PROMETHEUS_MULTIPROC_DIR`` an empty directory (a new temporary one if unset).

    Call it once before the workers start: samples left by an earlier run would
    be added to this one's.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="jwt-auth-api-metrics-")
        os.environ[MULTIPROC_ENV] = path
    return path


def worker_exited(pid: int) -> None:
    """Tell prometheus_client a worker is gone (drops its live gauges, if any)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class _Metrics:
    """The process's metric objects (made once per process)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests: Histogram = Histogram(
            "http_request_duration_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=BUCKETS,
        )
        self.events: Counter = Counter(
            "jwtauth_security_events", "Security events (the audit log) by event.", ["event"]
        )
        self.revocations: Counter = Counter(
            "jwtauth_revocations", "Token revocations by reason.", ["reason"]
        )
        self.backend_unavailable: Counter = Counter(
            "jwtauth_backend_unavailable",
            "Requests answered 503 because a backend was unreachable.",
            ["backend"],
        )
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            if method not in METHODS:  # client-chosen: keep the label set bounded
                method = "other"
            child = self.requests.labels(method, route, str(status))
            self._children[key] = child
        child.observe(seconds)


_metrics: _Metrics | None = None


def _get() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if _metrics is not None:
        _metrics.observe(method, route, status, seconds)


def count_event(name: str) -> None:
    """Count one audit event (called by :func:`api.core.audit.event`)."""
    if _metrics is None:
        return
    _metrics.events.labels(name).inc()
    reason = REVOKING.get(name)
    if reason:
        _metrics.revocations.labels(reason).inc()


def count_backend_unavailable(backend: str) -> None:
    if _metrics is not None:
        _metrics.backend_unavailable.labels(backend).inc()


def exposition() -> tuple[bytes, str]:
    """The metrics of every worker, in Prometheus text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def init() -> None:
    """Make this process's metric objects (idempotent)."""
    _get()
