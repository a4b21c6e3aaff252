"""Pending second-factor logins (``mfa_token``s), shared by every worker.

Only a SHA-256 of each token is stored. :class:`SqlChallengeStore` keeps them
in the ``mfa_challenges`` table; :class:`RedisChallengeStore` in Redis when
``REDIS_URL`` is set (keys expire with the token). Both make the two
decisions atomically, so concurrent requests cannot both win:

- :meth:`attempt` counts one attempt and answers the user id and the token
  epoch the login verified, or why not;
- :meth:`spend` marks the token used: true for exactly one caller.
"""

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update

from ..core.database import rowcount
from ..core.extensions import db
from .models import MfaChallenge

UNKNOWN = "unknown"  # never issued, or expired
USED = "used"
EXHAUSTED = "exhausted"  # too many attempts


class ChallengeRefused(Exception):
    """The mfa_token cannot be used (``reason``: UNKNOWN, USED or EXHAUSTED)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChallengeStore(Protocol):
    def create(
        self, digest: str, user_id: int, epoch: int, now: datetime, lifetime: int
    ) -> None: ...

    def attempt(self, digest: str, now: datetime, max_attempts: int) -> tuple[int, int]: ...

    def spend(self, digest: str, now: datetime) -> bool: ...


class SqlChallengeStore:
    """Challenges in the ``mfa_challenges`` table; every method commits."""

    def create(self, digest: str, user_id: int, epoch: int, now: datetime, lifetime: int) -> None:
        # expired rows go as new ones come: the table holds minutes of logins
        db.session.execute(
            delete(MfaChallenge).where(MfaChallenge.expires_at < now - timedelta(minutes=1))
        )
        expires_at = now + timedelta(seconds=lifetime)
        db.session.add(
            MfaChallenge(digest=digest, user_id=user_id, epoch=epoch, expires_at=expires_at)
        )
        db.session.commit()

    def attempt(self, digest: str, now: datetime, max_attempts: int) -> tuple[int, int]:
        result = db.session.execute(
            update(MfaChallenge)
            .where(
                MfaChallenge.digest == digest,
                MfaChallenge.used_at.is_(None),
                MfaChallenge.expires_at > now,
                MfaChallenge.attempts < max_attempts,
            )
            .values(attempts=MfaChallenge.attempts + 1)
        )
        if rowcount(result) == 1:
            row = db.session.execute(
                select(MfaChallenge.user_id, MfaChallenge.epoch).where(
                    MfaChallenge.digest == digest
                )
            ).first()
            db.session.commit()
            if row is not None:
                return int(row[0]), int(row[1])
        db.session.rollback()
        challenge = db.session.get(MfaChallenge, digest)
        if challenge is None or challenge.expires_at <= now:
            raise ChallengeRefused(UNKNOWN)
        raise ChallengeRefused(USED if challenge.used_at is not None else EXHAUSTED)

    def spend(self, digest: str, now: datetime) -> bool:
        result = db.session.execute(
            update(MfaChallenge)
            .where(MfaChallenge.digest == digest, MfaChallenge.used_at.is_(None))
            .values(used_at=now)
        )
        db.session.commit()
        return rowcount(result) == 1


# KEYS[1] the challenge; ARGV[1] the attempt limit, ARGV[2] now (the app's clock decides
# expiry; the key's own TTL only cleans up). Answers "<user id>:<epoch>" or a reason.
_ATTEMPT = """
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return 'unknown' end
if tonumber(redis.call('HGET', KEYS[1], 'expires')) <= tonumber(ARGV[2]) then
  return 'unknown'
end
if redis.call('HGET', KEYS[1], 'used') == '1' then return 'used' end
if tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[1]) then
  return 'exhausted'
end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return user .. ':' .. redis.call('HGET', KEYS[1], 'epoch')
"""
_SPEND = """
if redis.call('HGET', KEYS[1], 'used') == '0' then
  redis.call('HSET', KEYS[1], 'used', '1')
  return 1
end
return 0
"""


class RedisChallengeStore:
    """Challenges as Redis hashes ``<prefix>mfa:challenge:<hash>`` expiring with the token."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._attempt = client.register_script(_ATTEMPT)
        self._spend = client.register_script(_SPEND)

    def _key(self, digest: str) -> str:
        return f"{self.prefix}mfa:challenge:{digest}"

    def create(self, digest: str, user_id: int, epoch: int, now: datetime, lifetime: int) -> None:
        key = self._key(digest)
        with self.client.pipeline(transaction=True) as pipe:
            expires = now.timestamp() + lifetime
            fields = {
                "user": user_id,
                "epoch": epoch,
                "attempts": 0,
                "used": 0,
                "expires": repr(expires),
            }
            pipe.hset(key, mapping=fields)
            pipe.expire(key, max(1, math.ceil(lifetime)) + 60)
            pipe.execute()

    def attempt(self, digest: str, now: datetime, max_attempts: int) -> tuple[int, int]:
        args = [max_attempts, repr(now.timestamp())]
        answer = self._attempt(keys=[self._key(digest)], args=args)
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text in (UNKNOWN, USED, EXHAUSTED):
            raise ChallengeRefused(text)
        user_id, _, epoch = text.partition(":")
        return int(user_id), int(epoch)

    def spend(self, digest: str, now: datetime) -> bool:
        return bool(self._spend(keys=[self._key(digest)]))


def make_store(app_extensions: dict[str, Any], prefix: str) -> ChallengeStore:
    client = app_extensions.get("redis")
    if client is not None:
        return RedisChallengeStore(client, prefix)
    return SqlChallengeStore()


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
