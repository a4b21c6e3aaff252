"""Redis settings that need no Redis client: Sentinel URLs, ``REDIS_MIN_REPLICAS``.

Kept apart from :mod:`api.core.redisdb` so that checking the settings does not
import redis-py (about 7 MB per worker) into an app that does not use Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import unquote

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelUrl:
    """The parts of a ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    def auth(self) -> dict[str, str]:
        """Credentials, for the sentinels and for the primary alike."""
        found = {"username": self.username, "password": self.password}
        return {key: value for key, value in found.items() if value}

    def storage_uri(self) -> str:
        """The URI for the ``limits`` library: no db part, it would join the service name."""
        credentials = ""
        if self.username or self.password:
            credentials = f"{self.username or ''}:{self.password or ''}@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.sentinels)
        return f"{SENTINEL_SCHEME}://{credentials}{hosts}/{self.service}"


def is_sentinel(url: str | None) -> TypeGuard[str]:
    return bool(url) and str(url).lower().startswith(SENTINEL_SCHEME + "://")


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Parse ``redis+sentinel://[[user]:password@]host[:port],.../service[/db]``.

    Raises ValueError saying what is wrong (the app refuses to start).
    """
    if not is_sentinel(url):
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    rest = url[len(SENTINEL_SCHEME) + 3 :]
    if "?" in rest or "#" in rest:
        raise ValueError("a redis+sentinel URL takes no query string or fragment")
    netloc, _, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon and secret else None
    sentinels = tuple(_host_port(part) for part in hosts.split(","))
    parts = path.split("/")
    service = unquote(parts[0]) if parts else ""
    if not service or len(parts) > 2:
        raise ValueError("a redis+sentinel URL ends in /service or /service/db")
    db = 0
    if len(parts) == 2 and parts[1]:
        if not parts[1].isdigit():
            raise ValueError(f"database number {parts[1]!r} is not a number")
        db = int(parts[1])
    return SentinelUrl(sentinels, service, db, username, password)


def _host_port(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ValueError(f"sentinel address {text!r} has no host")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"sentinel address {text!r} has a bad port")
    return host, int(port) if port else SENTINEL_PORT


def min_replicas(config: Mapping[str, Any]) -> int:
    """``REDIS_MIN_REPLICAS``; unset: 1 with Sentinel (there is a replica), else 0."""
    value = config.get("REDIS_MIN_REPLICAS")
    if value is None or value == "":
        return 1 if is_sentinel(config.get("REDIS_URL")) else 0
    return int(value)
