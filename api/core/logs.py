"""Logs as one JSON object per line on stdout: access log, application log, audit log.

Every record carries ``timestamp`` (UTC, ISO 8601), ``level``, ``logger``,
``message``, the worker ``pid`` and, inside a request, its ``request_id``.
Audit records (``api.audit``) and access records (``api.access``) put their
fields at the top level. Nothing here is given a token, a password or a query
string; a path that matched no route is cut short and stripped of anything
shaped like a JWT, since a client may send one there.

:func:`dict_config` is the :func:`logging.config.dictConfig` that the servers
apply (``jwt-auth-api serve``, ``gunicorn.conf.py``); an app made by any other
server (``gunicorn 'api:create_app()'`` without our settings, uWSGI, waitress,
``flask run``) applies it itself, unless the host configured logging already
(:func:`configure_unless_configured`). Tests leave logging alone and read
records through ``caplog``.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

from flask import has_request_context

from .headers import request_id

ACCESS = "api.access"
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?")
MAX_PATH = 200

access_logger = logging.getLogger(ACCESS)


def safe_path(path: str) -> str:
    """A client-chosen path fit for a log: bounded, no JWT-shaped text."""
    return _JWT.sub("[redacted]", path[:MAX_PATH])


_second: list[tuple[int, str]] = [(-1, "")]  # the last second formatted, reused within it


def _timestamp(created: float) -> str:
    seconds = int(created)
    last, text = _second[0]
    if seconds != last:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second[0] = (seconds, text)
    return f"{text}.{int((created - seconds) * 1000):03d}Z"


def access(message: str, fields: dict[str, Any]) -> None:
    """Write one access record (the caller checked the logger is enabled for INFO).

    With logging as :func:`dict_config` leaves it (the access logger's records
    reach only our stdout handler, nothing filters them), the line is formatted
    and written here, the same line :class:`JsonFormatter` makes, without a
    ``LogRecord`` (a third of the line's cost). Any other set-up gets a record.
    """
    handler = _only_stdout_handler()
    if handler is not None:
        now = time.time()
        entry = {
            "timestamp": _timestamp(now),
            "level": "INFO",
            "logger": ACCESS,
            "message": message,
            **fields,
            "pid": os.getpid(),
        }
        handler.write_access(json.dumps(entry, default=str, separators=(",", ":")))
        return
    access_logger.handle(
        access_logger.makeRecord(
            ACCESS, logging.INFO, "", 0, message, (), None, extra={"access": fields}
        )
    )


def _only_stdout_handler() -> StdoutHandler | None:
    """The handler an access record would reach, if it is the only one and plain."""
    logger: logging.Logger | None = access_logger
    found: StdoutHandler | None = None
    while logger is not None:
        if logger.filters or logger.disabled:
            return None
        for handler in logger.handlers:
            if (
                found is not None
                or type(handler) is not StdoutHandler
                or type(handler.formatter) is not JsonFormatter
                or handler.filters
                or handler.level > logging.INFO
            ):
                return None
            found = handler
        logger = logger.parent if logger.propagate else None
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "audit", None) or getattr(record, "access", None)
        if fields is not None:
            entry["message"] = fields.get("event") or record.getMessage()
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
            for key, value in record.__dict__.items():  # extra={...} given by the caller
                if key not in _RESERVED and not key.startswith("_"):
                    entry.setdefault(key, value)
        if "request_id" not in entry and has_request_context():
            entry["request_id"] = request_id()
        entry["pid"] = record.process
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Records to stdout; access lines written at most every ``interval`` seconds.

    A write system call per request, and a lock every worker thread queues on, cost
    a busy multi-threaded worker more CPU than formatting the line (measured:
    README "Logs and metrics"). So an access line is appended to a queue (no lock),
    and a timer thread writes the queue out every ``interval``. It writes whole
    lines only, at most ``CHUNK`` bytes per ``write()`` (one line longer than that
    alone): writes up to ``PIPE_BUF`` to a pipe are atomic, so the lines of the
    workers sharing one stdout never cut into each other. Every other record
    (audit, errors) is written at once, under the handler's lock; the queue is
    written out when logging shuts down (a worker exiting).
    """

    CHUNK = 4096  # PIPE_BUF on Linux; JSON lines are ASCII, so bytes = characters
    # lines waiting at most (40,000 a second at the default interval); should stdout
    # block, the oldest are dropped rather than the worker's memory growing
    MAX_PENDING = 10_000

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__()
        self.interval = interval
        self._pending: deque[str] = deque(maxlen=self.MAX_PENDING)
        self._timer_pid = 0

    @property
    def stream(self) -> TextIO:
        return sys.stdout  # looked up each time: tests and servers swap it

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass

    def handle(self, record: logging.LogRecord) -> bool:
        # the lock is taken where stdout is written (emit, flush), not per record
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def write_access(self, line: str) -> None:
        """Queue an access line formatted by :func:`access`; the timer writes it."""
        self._pending.append(line + "\n")  # deque.append is thread-safe
        if self._timer_pid != os.getpid():
            self._start_timer()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            if record.name == ACCESS:
                self._pending.append(line)
                if self._timer_pid != os.getpid():
                    self._start_timer()
                return
            with self.lock:  # type: ignore[union-attr]
                self._write_pending()
                sys.stdout.write(line)
                sys.stdout.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging must never break the request
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            try:
                if not self._write_pending():
                    sys.stdout.flush()
            except (OSError, ValueError):  # stdout closed or gone: nowhere to write
                self._pending.clear()

    def _write_pending(self) -> bool:
        """Write out the queued lines in chunks of whole lines (the lock is held);
        whether there were any."""
        pending, size = self._pending, 0
        chunk: list[str] = []
        while pending:
            line = pending.popleft()
            if chunk and size + len(line) > self.CHUNK:
                sys.stdout.write("".join(chunk))
                sys.stdout.flush()
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if not chunk:
            return False
        sys.stdout.write("".join(chunk))
        sys.stdout.flush()
        return True

    def _start_timer(self) -> None:
        self._timer_pid = os.getpid()
        threading.Thread(target=self._flush_now_and_then, name="log-flush", daemon=True).start()

    def _flush_now_and_then(self) -> None:
        while True:
            time.sleep(self.interval)
            if self._pending:
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - keep the timer alive; drop what failed
                    self._pending.clear()


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """Everything to stdout as JSON; the servers' own access logs off."""
    handler = {"()": StdoutHandler, "formatter": "json"}
    quiet = {"level": "CRITICAL", "handlers": [], "propagate": False}
    own = {"level": level, "handlers": ["stdout"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": handler},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            # the servers' own loggers (supervisor, errors) in the same format
            "gunicorn.error": own,
            "_granian": own,
            # the app writes the access log (api.access), the same under every server
            "gunicorn.access": quiet,
            "granian.access": quiet,
        },
    }


def configure_unless_configured(level: str = "INFO") -> bool:
    """Apply :func:`dict_config` unless logging already has a root handler (the
    host's own configuration wins); whether it was applied.

    Without it a server that does not configure logging (plain gunicorn, whose
    own loggers have handlers but the root logger none) drops every record of
    ``api.audit`` and ``api.access``: Python's last-resort handler writes only
    warnings, to stderr.
    """
    if logging.getLogger().handlers:
        return False
    logging.config.dictConfig(dict_config(level))
    return True
