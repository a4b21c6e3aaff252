"""Attempt limits counted *before* the work they guard: password checks, refreshes.

Flask-Limiter's decorators count requests per client address. The limits here are
keyed by what only the service knows (a username, a user, a session) and are
counted with one atomic increment before the password is verified, so a burst of
N concurrent attempts against a limit of L gets at most L verdicts, whichever
worker or host serves them. The counters live in the rate-limit storage
(``RATELIMIT_STORAGE_URI``: Redis when ``REDIS_URL`` is set), in fixed windows.

A storage error is never swallowed: an attempt that cannot be counted is not
made (the caller's request fails with 503).
"""

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .config import ConfigError

EXTENSION = "throttle"


class RateLimited(Exception):
    """Too many attempts: the caller answers 429 with ``Retry-After``."""

    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__(f"Too many attempts ({limit}); retry in {retry_after} s.")
        self.retry_after = retry_after
        self.limit = limit


@dataclass(frozen=True)
class Attempt:
    """One counted attempt, which :func:`refund` can give back."""

    items: tuple[RateLimitItem, ...]
    identifiers: tuple[str, ...]


NOT_COUNTED = Attempt((), ())


class Throttle:
    """Fixed-window counters on a ``limits`` storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)

    def hit(self, limits: str, identifiers: tuple[str, ...]) -> Attempt:
        """Count one attempt against every limit in ``limits`` (``"5/minute;50/day"``).

        Raises :class:`RateLimited` when any of them is exhausted (the attempt is
        counted anyway: refused attempts do not reopen the window).
        """
        items = tuple(parse_many(limits))
        refused = [item for item in items if not self.strategy.hit(item, *identifiers)]
        if refused:
            raise RateLimited(self._retry_after(refused, identifiers), str(refused[0]))
        return Attempt(items, identifiers)

    def refund(self, attempt: Attempt) -> None:
        """Give back a counted attempt (e.g. a login that succeeded)."""
        for item in attempt.items:
            key = item.key_for(*attempt.identifiers)
            decrement = getattr(self.storage, "decr", None)
            if decrement is not None:  # memory: never below zero
                decrement(key)
            else:  # Redis: INCRBY -1 (a window that just rolled over starts at -1)
                self.storage.incr(key, item.get_expiry(), amount=-1)

    def _retry_after(self, refused: list[RateLimitItem], identifiers: tuple[str, ...]) -> int:
        resets = [self.strategy.get_window_stats(item, *identifiers).reset_time for item in refused]
        return max(1, math.ceil(max(resets) - time.time()))


def init_app(app: Flask) -> None:
    """Open the rate-limit storage Flask-Limiter uses (same URI and options)."""
    config = app.config
    if not config["RATELIMIT_ENABLED"]:
        app.extensions[EXTENSION] = None
        return
    options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    storage = storage_from_string(config["RATELIMIT_STORAGE_URI"], **options)
    if not isinstance(storage, Storage):  # an async+... URI
        raise ConfigError("RATELIMIT_STORAGE_URI must name a synchronous storage (no async+).")
    app.extensions[EXTENSION] = Throttle(storage)


def hit(setting: str, *identifiers: str) -> Attempt:
    """Count one attempt against the limit in the setting ``setting``, keyed by ``identifiers``."""
    throttle: Throttle | None = current_app.extensions.get(EXTENSION)
    if throttle is None:
        return NOT_COUNTED
    return throttle.hit(str(current_app.config[setting]), (setting.lower(), *identifiers))


def refund(attempt: Attempt) -> None:
    throttle: Throttle | None = current_app.extensions.get(EXTENSION)
    if throttle is not None and attempt.items:
        throttle.refund(attempt)


def digest(text: str) -> str:
    """A fixed-length key part for free text (a username may hold any code point)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
