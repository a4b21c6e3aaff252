"""A bound on stuck requests: a request running past ``REQUEST_TIMEOUT`` restarts its worker.

Backend calls have their own timeouts (Redis 1 s, PostgreSQL connect 3 s), but a
database that accepts packets and never answers (a frozen process) can hold a
request forever. gunicorn's sync workers have ``timeout`` for that; granian has no
per-request timeout and gunicorn's gthread timeout watches the worker, not its
threads. This WSGI wrapper notes when each thread's request started; a thread in
the worker checks once a second and, when one runs too long, logs it and kills
the worker (SIGKILL), which the server replaces (granian
``respawn_failed_workers``, gunicorn's arbiter). Requests in flight on that
worker fail, as with gunicorn's timeout.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger("api.runtime.watchdog")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Watchdog:
    """Wrap a WSGI app; kill this process when a request outlives ``timeout`` seconds."""

    def __init__(self, app: WSGIApp, timeout: float, *, interval: float = 1.0) -> None:
        self.app = app
        self.timeout = timeout
        self.interval = min(interval, timeout / 2)
        self._running: dict[int, tuple[float, str, str]] = {}
        self._pid = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._pid != os.getpid():
            self._start()
        key = threading.get_ident()
        self._running[key] = (
            time.monotonic(),
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", "")[:200],
        )
        try:
            return self.app(environ, start_response)
        finally:
            self._running.pop(key, None)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._running.clear()
            threading.Thread(target=self._watch, name="request-watchdog", daemon=True).start()
            self._pid = os.getpid()

    def _watch(self) -> None:
        while True:
            time.sleep(self.interval)
            now = time.monotonic()
            for started, method, path in list(self._running.values()):
                if now - started > self.timeout:
                    self._expire(method, path, now - started)

    def _expire(self, method: str, path: str, seconds: float) -> None:
        logger.critical(
            "request exceeded REQUEST_TIMEOUT; restarting the worker",
            extra={"method": method, "path": path, "seconds": round(seconds, 1)},
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
