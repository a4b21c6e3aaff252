"""The Redis client shared by the token store, the rate limiter and ``/health``.

Timeouts are short and retries few, so a Redis that is down or hung turns a
request into a quick 503 (see :mod:`api.errors`), never a hang.
"""

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def client_options(config):
    """Keyword arguments for ``redis.Redis.from_url`` from the app settings."""
    return {
        "socket_timeout": config["REDIS_SOCKET_TIMEOUT"],
        "socket_connect_timeout": config["REDIS_CONNECT_TIMEOUT"],
        # one quick retry replaces a pooled connection that died (Redis restarted)
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        "health_check_interval": 30,
    }


def init_app(app):
    """Create the client when ``REDIS_URL`` is set and add Redis to ``/health``."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = redis.Redis.from_url(url, **client_options(app.config))
    app.extensions["redis"] = client
    app.extensions.setdefault("health_checks", {})["Redis server"] = client.ping
    return client
