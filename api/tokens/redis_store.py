"""Token state in Redis: shared by every worker on every host.

Keys (all under ``REDIS_KEY_PREFIX``):

- ``session:<id>``: hash of one login (user, epoch, live refresh jti, times,
  user agent, ip), expiring with its refresh token;
- ``sessions:<user id>``: sorted set of the user's session ids by expiry;
- ``epoch:<user id>``: the user's token epoch (one small key per user);
- ``revoked:<jti>``: present while a revoked token would still be valid.

Every check and change is one Lua script, so it is atomic and one round trip.
Every change goes through :meth:`RedisTokenStore._durably`: it is answered only
once ``REDIS_MIN_REPLICAS`` replicas hold it (``WAIT``, see
:func:`api.core.redisdb.durable`), else it raises ``NotReplicated`` (503) and,
where it can, first undoes what the client will not be told about.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any, cast

from redis import Redis
from redis.commands.core import Script

from ..core.redisdb import NotReplicated, durable, requires_replicas
from .store import FRESH, SPENT, UNKNOWN, EpochMoved, SessionRecord

# KEYS: revoked:jti, session:id, epoch:user  ARGV: user id
_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local s = redis.call('HMGET', KEYS[2], 'user', 'epoch')
if not s[1] or s[1] ~= ARGV[1] then return 1 end
if redis.call('GET', KEYS[3]) ~= s[2] then return 1 end
return 0
"""

_KEEP_SET_ALIVE = """
local function keep_alive(key, ttl)
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
"""

# KEYS: epoch:user, session:id, sessions:user
# ARGV: epoch, user, refresh, created, last_used, expires, ua, ip, ttl, score, max, now,
#       session prefix, id
_CREATE = (
    _KEEP_SET_ALIVE
    + """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(ARGV[1]) then return current end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'user', ARGV[2], 'epoch', ARGV[1], 'refresh', ARGV[3],
  'created', ARGV[4], 'last_used', ARGV[5], 'expires', ARGV[6], 'ua', ARGV[7], 'ip', ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[12])
redis.call('ZADD', KEYS[3], ARGV[10], ARGV[14])
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[11])
if extra > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, extra - 1)) do
    redis.call('DEL', ARGV[13] .. id)
    redis.call('ZREM', KEYS[3], id)
  end
end
keep_alive(KEYS[3], tonumber(ARGV[9]))
return 'ok'
"""
)

# KEYS: session:id, sessions:user  ARGV: user, old jti, new jti, last_used, expires, ttl,
#       score, id
_ROTATE = (
    _KEEP_SET_ALIVE
    + """
local s = redis.call('HMGET', KEYS[1], 'user', 'refresh')
if not s[1] or s[1] ~= ARGV[1] then return 'unknown' end
if s[2] ~= ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[8])
  return 'spent'
end
redis.call('HSET', KEYS[1], 'refresh', ARGV[3], 'last_used', ARGV[4], 'expires', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[8])
keep_alive(KEYS[2], tonumber(ARGV[6]))
return 'fresh'
"""
)

# KEYS: sessions:user, epoch:user (or a placeholder)  ARGV: session prefix, user, keep id or '',
#       new epoch or ''
_END = """
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[3] then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[1], id)
    ended = ended + 1
  end
end
if ARGV[4] ~= '' then
  local epoch = math.max(tonumber(redis.call('GET', KEYS[2]) or '-1'), tonumber(ARGV[4]))
  redis.call('SET', KEYS[2], epoch)
  local keep = ARGV[1] .. ARGV[3]
  if ARGV[3] ~= '' and redis.call('HGET', keep, 'user') == ARGV[2] then
    redis.call('HSET', keep, 'epoch', epoch)
  end
end
return ended
"""

# KEYS: session:id, sessions:user  ARGV: user, id
_END_ONE = """
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

# Undo a rotation whose answer is a 503 (not on enough replicas), so retrying the same
# refresh token is not taken for reuse.  KEYS: session:id  ARGV: new jti, old jti
_UNROTATE = """
if redis.call('HGET', KEYS[1], 'refresh') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
return 1
"""

_STATES = {b"fresh": FRESH, b"spent": SPENT, b"unknown": UNKNOWN}


def _ttl(expires_at: datetime) -> int:
    """Whole seconds until ``expires_at`` (rounded up; 0 or less: already expired)."""
    return math.ceil(expires_at.timestamp() - time.time())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class RedisTokenStore:
    """Sessions and revocations in Redis (same interface as SqlTokenStore)."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._check = client.register_script(_CHECK)
        self._create = client.register_script(_CREATE)
        self._rotate = client.register_script(_ROTATE)
        self._end = client.register_script(_END)
        self._end_one = client.register_script(_END_ONE)
        self._unrotate = client.register_script(_UNROTATE)

    def _durably(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run a state-changing script; answer once it is on ``REDIS_MIN_REPLICAS``
        replicas (``WAIT`` on the same connection), else raise ``NotReplicated``."""
        if not requires_replicas(self.client):
            return script(keys=keys, args=args)
        with durable(self.client, transaction=False) as pipe:
            script(keys=keys, args=args, client=pipe)
            (answer,) = pipe.execute()
        return answer

    def _key(self, kind: str, name: object) -> str:
        return f"{self.prefix}{kind}:{name}"

    def is_revoked(self, jti: str, family: str | None, user_id: int) -> bool:
        """One script call: jti revoked, session gone, or session not in the user's epoch."""
        if family is None:
            return True
        keys = [
            self._key("revoked", jti),
            self._key("session", family),
            self._key("epoch", user_id),
        ]
        return bool(self._check(keys=keys, args=[user_id]))

    def revoke(self, key: str, expires_at: datetime) -> None:
        """Revoke until ``expires_at``; a token already expired needs no record."""
        ttl = _ttl(expires_at)
        if ttl > 0:
            with durable(self.client, transaction=False) as pipe:
                pipe.set(self._key("revoked", key), 1, ex=ttl)
                pipe.execute()

    def create_session(self, record: SessionRecord, max_sessions: int) -> None:
        """Store the session unless the user's epoch moved past ``record.epoch``."""
        keys = [
            self._key("epoch", record.user_id),
            self._key("session", record.id),
            self._key("sessions", record.user_id),
        ]
        args: list[str | int | float] = [
            record.epoch,
            record.user_id,
            record.refresh_jti,
            _iso(record.created_at),
            _iso(record.last_used_at),
            _iso(record.expires_at),
            record.user_agent or "",
            record.ip or "",
            max(1, _ttl(record.expires_at)),
            record.expires_at.timestamp(),
            max_sessions,
            time.time(),
            self._key("session", ""),
            record.id,
        ]
        try:
            answer = self._durably(self._create, keys, args)
        except NotReplicated:
            # the client gets a 503: leave no session it was never told about
            self._end_one(keys=keys[1:], args=[record.user_id, record.id])
            raise
        if answer != b"ok":
            raise EpochMoved(int(answer))

    def rotate(
        self,
        family: str,
        user_id: int,
        old_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> str:
        keys = [self._key("session", family), self._key("sessions", user_id)]
        args: list[str | int | float] = [
            user_id,
            old_jti,
            new_jti,
            _iso(now),
            _iso(expires_at),
            max(1, _ttl(expires_at)),
            expires_at.timestamp(),
            family,
        ]
        try:
            answer = self._durably(self._rotate, keys, args)
        except NotReplicated:
            # the client gets a 503 and keeps the refresh token it sent: make that one
            # current again, so its retry is not taken for reuse (a concurrent replay
            # meanwhile still ended the session, as reuse must)
            self._unrotate(keys=keys[:1], args=[new_jti, old_jti])
            raise
        return _STATES[answer]

    def sessions_of(self, user_id: int) -> list[SessionRecord]:
        """The user's live sessions in the current epoch, most recently used first."""
        found = self.client.zrangebyscore(self._key("sessions", user_id), f"({time.time()}", "+inf")
        ids = [item.decode() for item in cast(list[bytes], found)]
        if not ids:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            pipe.get(self._key("epoch", user_id))
            for session_id in ids:
                pipe.hgetall(self._key("session", session_id))
            epoch, *hashes = pipe.execute()
        records = [
            _from_hash(session_id, fields)
            for session_id, fields in zip(ids, hashes, strict=True)
            if fields
            and fields.get(b"user") == str(user_id).encode()
            and fields.get(b"epoch") == epoch
        ]
        return sorted(records, key=lambda r: (-r.last_used_at.timestamp(), r.id))

    def end_session(self, user_id: int, family: str) -> bool:
        keys = [self._key("session", family), self._key("sessions", user_id)]
        return bool(self._durably(self._end_one, keys, [user_id, family]))

    def end_sessions(self, user_id: int, *, keep: str | None = None) -> int:
        return int(self._run_end(user_id, keep, ""))

    def move_epoch(self, user_id: int, epoch: int, *, keep: str | None) -> None:
        self._run_end(user_id, keep, str(epoch))

    def _run_end(self, user_id: int, keep: str | None, epoch: str) -> Any:
        keys = [self._key("sessions", user_id), self._key("epoch", user_id)]
        args: list[str | int] = [self._key("session", ""), user_id, keep or "", epoch]
        return self._durably(self._end, keys, args)

    def purge(self) -> int:
        """Drop expired ids from the per-user sets; the other keys expire by themselves."""
        removed = 0
        now = time.time()
        for key in self.client.scan_iter(match=self._key("sessions", "*"), count=500):
            removed += self.client.zremrangebyscore(key, "-inf", now)
        return removed


def _from_hash(session_id: str, fields: dict[bytes, bytes]) -> SessionRecord:
    text = {name.decode(): value.decode() for name, value in fields.items()}
    return SessionRecord(
        id=session_id,
        user_id=int(text["user"]),
        epoch=int(text["epoch"]),
        refresh_jti=text["refresh"],
        created_at=datetime.fromisoformat(text["created"]),
        last_used_at=datetime.fromisoformat(text["last_used"]),
        expires_at=datetime.fromisoformat(text["expires"]),
        user_agent=text.get("ua") or None,
        ip=text.get("ip") or None,
    )
