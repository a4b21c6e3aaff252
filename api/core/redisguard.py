"""Redis must never drop token state on its own: ``maxmemory-policy noeviction``.

Every token-state key (revocations, refresh records) carries a TTL, so any
eviction policy, ``volatile-*`` included, may delete a revocation when memory
runs short: a logged-out token would work again. With ``noeviction`` a full
Redis refuses writes instead (503, nothing lost).

The policy is read with ``CONFIG GET`` at start-up (an evicting policy is a
:class:`~api.core.config.ConfigError`) and on every readiness check. Managed
Redis services often disable ``CONFIG``: then a warning is logged, and
``REDIS_MAXMEMORY_POLICY`` states the policy the operator configured.
``REDIS_ALLOW_EVICTION`` accepts an evicting policy knowingly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

from .config import ConfigError

if TYPE_CHECKING:  # imported where a client exists: an app without Redis never loads it
    import redis

SAFE_POLICY = "noeviction"
logger = logging.getLogger(__name__)


class NotReady(Exception):
    """A backend answers but must not be used as it is (readiness: 503 with this detail)."""


def observed_policy(client: redis.Redis) -> str | None:
    """The server's ``maxmemory-policy``, or None when ``CONFIG GET`` is refused.

    Connection errors and timeouts propagate: the server could not be asked.
    """
    import redis.exceptions

    try:
        answer = client.config_get("maxmemory-policy")
    except redis.exceptions.ResponseError:  # unknown or renamed command, NOPERM
        return None
    value = answer.get("maxmemory-policy") if isinstance(answer, dict) else None
    return None if value is None else str(value)  # redis-py decodes CONFIG GET replies


def problem_with(policy: str | None, config: Mapping[str, Any]) -> str | None:
    """Why ``policy`` (None: unknown) is unacceptable under ``config``, or None."""
    if policy is None:
        policy = config.get("REDIS_MAXMEMORY_POLICY") or None
    if policy is None or policy == SAFE_POLICY or config.get("REDIS_ALLOW_EVICTION"):
        return None
    return (
        f"Redis has maxmemory-policy {policy}: it may evict revocations and refresh "
        f"records, so a logged-out token could work again. Set `maxmemory-policy "
        f"{SAFE_POLICY}` on the Redis server (CONFIG SET or redis.conf), or set "
        "FLASK_REDIS_ALLOW_EVICTION=true to accept the risk."
    )


def check_at_start(client: redis.Redis, config: Mapping[str, Any]) -> None:
    """Refuse to start on an evicting Redis; an unreachable one is left to readiness."""
    import redis.exceptions

    try:
        policy = observed_policy(client)
    except redis.exceptions.RedisError as error:
        logger.warning(
            "Redis unreachable at start-up (%s): maxmemory-policy is checked by /health",
            type(error).__name__,
        )
        return
    if policy is None and not config.get("REDIS_MAXMEMORY_POLICY"):
        logger.warning(
            "Redis maxmemory-policy unknown (CONFIG GET refused): make sure it is %s and "
            "set FLASK_REDIS_MAXMEMORY_POLICY=%s to say so",
            SAFE_POLICY,
            SAFE_POLICY,
        )
    problem = problem_with(policy, config)
    if problem:
        raise ConfigError(problem)
    if policy not in (None, SAFE_POLICY):
        logger.warning("Redis maxmemory-policy %s accepted (REDIS_ALLOW_EVICTION)", policy)


def init_app(app: Flask) -> None:
    """Check the token-state Redis now and on every readiness check."""
    client: redis.Redis | None = app.extensions.get("redis")
    if client is None:
        return
    config = app.config
    try:
        check_at_start(client, config)
    except Exception:
        client.close()  # the app is not made (refused, or Redis unreachable): let go of it
        raise

    def ready() -> None:
        problem = problem_with(observed_policy(client), config)
        if problem:
            raise NotReady(problem)

    app.extensions.setdefault("health_checks", {})["Redis eviction policy"] = ready
