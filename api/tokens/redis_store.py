"""Token state in Redis: shared by every worker on every host.

Keys (all under ``REDIS_KEY_PREFIX``), each expiring with the token it is about,
so Redis never grows without bound:

- ``revoked:<jti or family>``: present while the revocation matters;
- ``refresh:<jti>``: ``0`` once issued, ``1`` once spent;
- ``families:<user id>``: sorted set of the user's refresh families, scored by expiry.
"""

import math
import time

from .store import FRESH, SPENT, UNKNOWN

# Atomic check-and-spend: of concurrent presentations exactly one sees "fresh".
_SPEND = """
local state = redis.call('GET', KEYS[1])
if not state then return 'unknown' end
if state == '1' then return 'spent' end
redis.call('SET', KEYS[1], '1', 'KEEPTTL')
return 'fresh'
"""
_STATES = {b"fresh": FRESH, b"spent": SPENT, b"unknown": UNKNOWN}


def _ttl(expires_at):
    """Whole seconds until ``expires_at`` (rounded up; 0 or less: already expired)."""
    return math.ceil(expires_at.timestamp() - time.time())


class RedisTokenStore:
    """Revocations and refresh families in Redis (same interface as SqlTokenStore)."""

    def __init__(self, client, prefix):
        self.client = client
        self.prefix = prefix
        self._spend = client.register_script(_SPEND)

    def _key(self, kind, name):
        return f"{self.prefix}{kind}:{name}"

    def is_revoked(self, *keys):
        """Whether any of ``keys`` is revoked: one ``EXISTS`` round trip."""
        return self.client.exists(*(self._key("revoked", key) for key in keys)) > 0

    def revoke(self, key, expires_at):
        """Revoke until ``expires_at``; a token already expired needs no record."""
        ttl = _ttl(expires_at)
        if ttl > 0:
            self.client.set(self._key("revoked", key), 1, ex=ttl)

    def add_refresh(self, jti, family, user_id, expires_at):
        families = self._key("families", user_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._key("refresh", jti), 0, ex=max(1, _ttl(expires_at)))
            pipe.zadd(families, {family: expires_at.timestamp()})
            pipe.zremrangebyscore(families, "-inf", time.time())
            # the set lives as long as its longest-lived family: set once, then only extend
            until = max(math.ceil(expires_at.timestamp()), math.ceil(time.time())) + 1
            pipe.expireat(families, until, nx=True)
            pipe.expireat(families, until, gt=True)
            pipe.execute()

    def spend_refresh(self, jti):
        """FRESH the first time, SPENT after, UNKNOWN if never issued (or expired)."""
        return _STATES[self._spend(keys=[self._key("refresh", jti)])]

    def families_of(self, user_id):
        now = time.time()
        members = self.client.zrangebyscore(self._key("families", user_id), f"({now}", "+inf")
        return [member.decode() for member in members]

    def purge(self):
        """Drop expired families from the per-user sets; keys expire by themselves."""
        removed = 0
        now = time.time()
        for key in self.client.scan_iter(match=self._key("families", "*"), count=500):
            removed += self.client.zremrangebyscore(key, "-inf", now)
        return removed
