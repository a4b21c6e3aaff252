"""What ``jwt-auth-api serve`` runs, from the environment; every server's settings live here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

GRANIAN = "granian"
GUNICORN_SYNC = "gunicorn-sync"
GUNICORN_GTHREAD = "gunicorn-gthread"
SERVERS = (GRANIAN, GUNICORN_SYNC, GUNICORN_GTHREAD)
# The default server (helper `perf` chooses it by measurement: README "Performance").
DEFAULT_SERVER = GRANIAN
DEFAULT_BIND = "127.0.0.1:8000"
# threads per worker where the server has them (granian, gunicorn gthread): argon2
# releases the GIL, so a thread can answer while another hashes a password
DEFAULT_THREADS = 4
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds; a request running longer restarts its worker
DEFAULT_GRACEFUL_TIMEOUT = 10.0  # seconds for in-flight requests on SIGTERM


class SettingsError(ValueError):
    """A serve setting in the environment is invalid."""


@dataclass(frozen=True)
class ServeSettings:
    server: str
    host: str
    port: int
    workers: int
    threads: int
    request_timeout: float
    graceful_timeout: float

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def default_workers(server: str) -> int:
    cpus = os.cpu_count() or 1
    # one request at a time per sync worker: one more than cores keeps them busy
    return cpus + 1 if server == GUNICORN_SYNC else cpus


def parse_bind(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) to its parts."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise SettingsError(f"BIND={value!r}: expected host:port, e.g. {DEFAULT_BIND}")
    return host.strip("[]"), int(port)


def _number(env: Mapping[str, str], name: str, default: float, kind: type = int) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value: float = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be positive")
    return value


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> ServeSettings:
    """The settings from ``env`` (``os.environ``); ``overrides`` (the command line) win."""
    env = os.environ if env is None else env
    server = str(overrides.get("server") or env.get("SERVER") or DEFAULT_SERVER)
    if server not in SERVERS:
        raise SettingsError(f"SERVER={server!r}: choose one of {', '.join(SERVERS)}")
    bind = overrides.get("bind") or env.get("BIND")
    if not bind and env.get("PORT"):
        bind = f"127.0.0.1:{env['PORT']}"
    host, port = parse_bind(str(bind or DEFAULT_BIND))
    workers = overrides.get("workers") or _number(env, "WEB_CONCURRENCY", default_workers(server))
    threads = overrides.get("threads") or _number(env, "WEB_THREADS", DEFAULT_THREADS)
    if server == GUNICORN_SYNC:
        threads = 1
    return ServeSettings(
        server=server,
        host=host,
        port=port,
        workers=int(workers),  # type: ignore[call-overload]
        threads=int(threads),  # type: ignore[call-overload]
        request_timeout=float(_number(env, "REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT, float)),
        graceful_timeout=float(_number(env, "GRACEFUL_TIMEOUT", DEFAULT_GRACEFUL_TIMEOUT, float)),
    )
