"""The Redis client shared by the token store, the rate limiter and ``/health``.

Timeouts are short and retries few, so a Redis that is down or hung turns a
request into a quick 503 (see :mod:`api.errors`), never a hang.

``REDIS_URL`` is either a plain ``redis://`` / ``rediss://`` URL or a Sentinel
one, ``redis+sentinel://[[user]:password@]host:port,host:port/service[/db]``:
the client then asks the sentinels for the current primary, and after a
failover reconnects to the new one by itself.

Durability: :func:`durable` gives the token store a pipeline that, after its
writes, sends ``WAIT <REDIS_MIN_REPLICAS> <timeout>`` on the same connection
and raises :class:`NotReplicated` (a 503) when fewer replicas acknowledged
them, so a revocation is never acknowledged before it would survive a failover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.client
from flask import Flask
from redis.backoff import ExponentialBackoff
from redis.connection import Connection
from redis.retry import Retry
from redis.sentinel import Sentinel

from .redisurl import is_sentinel, min_replicas, parse_sentinel_url


class NotReplicated(redis.exceptions.ConnectionError):
    """Fewer replicas than ``REDIS_MIN_REPLICAS`` acknowledged a write in time.

    The write is on the primary but could be lost if it failed over now, so
    it is not acknowledged: the request gets 503 (like any Redis outage) and
    the client retries; every token-state write is safe to repeat.
    """


def client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a Redis connection from the app settings."""
    return {
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT"],
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT"],
        # one quick retry replaces a pooled connection that died (Redis restarted,
        # or the primary failed over: the retry asks the sentinels again)
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        "health_check_interval": 30,
    }


def sentinel_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Connection options for the sentinels themselves: the same short timeouts.

    (Left unset, redis-py would retry a dead sentinel three times with
    back-off on every look-up of the primary.)
    """
    options = client_options(config)
    del options["health_check_interval"]
    return options


@dataclass(frozen=True)
class Durability:
    """How many replicas must hold a write, and how long to wait for them."""

    replicas: int = 0
    timeout_ms: int = 500


class DurablePipeline(redis.client.Pipeline):
    """A pipeline whose writes are followed by ``WAIT`` on the same connection.

    WAIT counts the replicas that acknowledged this connection's writes, so it
    must run on the connection that wrote: it is sent inside the pipeline's
    execution, and when the connection fails and redis-py retries, the writes
    and the WAIT are sent again together on the new connection.
    """

    def __init__(self, client: redis.Redis, transaction: bool, durability: Durability) -> None:
        super().__init__(client.connection_pool, client.response_callbacks, transaction, None)
        self.durability = durability
        self.acknowledged: int | None = None

    def _execute_transaction(
        self, connection: Connection, commands: Any, raise_on_error: bool
    ) -> list[Any]:
        result: list[Any] = super()._execute_transaction(connection, commands, raise_on_error)
        self._wait(connection)
        return result

    def _execute_pipeline(
        self, connection: Connection, commands: Any, raise_on_error: bool
    ) -> list[Any]:
        result: list[Any] = super()._execute_pipeline(  # type: ignore[no-untyped-call]
            connection, commands, raise_on_error
        )
        self._wait(connection)
        return result

    def _wait(self, connection: Connection) -> None:
        durability = self.durability
        connection.send_command(  # type: ignore[no-untyped-call]
            "WAIT", durability.replicas, durability.timeout_ms
        )
        self.acknowledged = int(connection.read_response())

    def _forget_acknowledgement(self) -> None:
        self.acknowledged = None

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        if not self.command_stack:
            return []
        self._forget_acknowledgement()
        result = super().execute(raise_on_error)
        # raised here, after redis-py's retry loop: waiting again would not help
        if self.acknowledged is not None and self.acknowledged < self.durability.replicas:
            raise NotReplicated(
                f"{self.acknowledged} of {self.durability.replicas} replica(s) acknowledged "
                f"the write within {self.durability.timeout_ms} ms"
            )
        return result


def requires_replicas(client: redis.Redis) -> bool:
    """Whether writes through ``client`` must reach replicas (``REDIS_MIN_REPLICAS`` > 0)."""
    durability: Durability | None = getattr(client, "durability", None)
    return durability is not None and durability.replicas > 0


def durable(client: redis.Redis, *, transaction: bool = True) -> redis.client.Pipeline:
    """A pipeline for state-changing writes: executing it returns only once the
    writes are on ``REDIS_MIN_REPLICAS`` replicas, or raises :class:`NotReplicated`.

    Use it for every token-state write (scripts too: ``script(keys, args,
    client=pipe)``); with ``REDIS_MIN_REPLICAS=0`` it is a plain pipeline.
    """
    durability: Durability | None = getattr(client, "durability", None)
    if durability is None or durability.replicas <= 0:
        return client.pipeline(transaction=transaction)
    return DurablePipeline(client, transaction, durability)


def make_client(url: str, config: Mapping[str, Any]) -> redis.Redis:
    """A client for ``url``: a plain Redis, or the primary named by a Sentinel URL."""
    if not is_sentinel(url):
        client = redis.Redis.from_url(url, **client_options(config))
    else:
        parsed = parse_sentinel_url(url)
        manager = Sentinel(  # type: ignore[no-untyped-call]
            list(parsed.sentinels),
            sentinel_kwargs={**sentinel_options(config), **parsed.auth()},
        )
        client = cast(
            redis.Redis,
            manager.master_for(  # type: ignore[no-untyped-call]
                parsed.service, db=parsed.db, **client_options(config), **parsed.auth()
            ),
        )
    client.durability = Durability(  # type: ignore[attr-defined]
        min_replicas(config), round(float(config["REDIS_REPLICA_TIMEOUT"]) * 1000)
    )
    return client


def limiter_storage(config: Mapping[str, Any], url: str) -> tuple[str, dict[str, Any]]:
    """Flask-Limiter's storage URI and options for ``url``: short timeouts, our prefix.

    ``limits`` reads the service name from a Sentinel URL's whole path with the
    slashes removed (``/mymaster/0`` would be the service ``mymaster0``), so
    it gets the URL without the db, and the db as an option.
    """
    options: dict[str, Any] = {
        "key_prefix": config["REDIS_KEY_PREFIX"] + "limits",
        **client_options(config),
    }
    if not is_sentinel(url):
        return url, options
    parsed = parse_sentinel_url(url)
    options.update(
        db=parsed.db,
        sentinel_kwargs=sentinel_options(config),
        use_replicas=False,  # counters are read where they are written
    )
    return parsed.storage_uri(), options


def init_app(app: Flask) -> redis.Redis | None:
    """Create the client when ``REDIS_URL`` is set and add Redis to ``/health``."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = make_client(url, app.config)
    app.extensions["redis"] = client
    app.extensions.setdefault("health_checks", {})["Redis server"] = client.ping
    return client
