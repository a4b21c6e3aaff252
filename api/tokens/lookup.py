"""The per-request session check on a persistent DBAPI connection.

Going through the ORM session costs a pool check-out (with its pre-ping), a
transaction and statement compilation on every request; an indexed primary-key
look-up on a connection kept open by each worker thread costs a few µs. The
connection reads in autocommit mode, so each look-up sees every revocation
committed before it, by any worker. It is detached from the pool and closed
when the engine is disposed. On any driver error the look-up closes its
connection and answers None, and the caller asks through the session, which
reconnects or reports the outage (503); the next look-up opens a new
connection. A database that turns read-only does not concern it: it only reads.
"""

import os
import threading
from typing import Any

from sqlalchemy import Engine, event

# One statement, one round trip: is the jti revoked, and is its session alive in
# the user's current epoch?
_SQL = (
    'SELECT EXISTS(SELECT 1 FROM revocations WHERE "key" = {p}), '
    "EXISTS(SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.id = {p} AND s.user_id = {p} AND s.epoch = u.token_epoch)"
)


class SessionLookup:
    """``lookup(jti, family, user_id)``: whether the token is revoked, or None when it
    cannot tell."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[threading.Thread, Any]] = []  # (owner thread, connection)
        self._generation = 0
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._errors: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._sql = _SQL.format(p=self._placeholder)
        event.listen(engine, "engine_disposed", self.close)

    def __call__(self, jti: str, family: str, user_id: int) -> bool | None:
        try:
            return self._query((jti, family, user_id))
        except self._errors:
            self._discard()  # reconnect next time
            return None

    def _discard(self) -> None:
        """Close this thread's connection after a driver error (the server restarted or
        went away): a broken connection still holds its socket until closed."""
        local = self._local
        driver, local.driver, local.generation = getattr(local, "driver", None), None, None
        if driver is None:
            return
        with self._lock:
            self._open = [(t, other) for t, other in self._open if other is not driver]
        try:
            driver.close()
        except self._errors:
            pass

    def _query(self, params: tuple[str, str, int]) -> bool:
        cursor = self._connection().cursor()
        try:
            cursor.execute(self._sql, params)
            rows = cursor.fetchall()  # fetch all: no read transaction left open
        finally:
            cursor.close()
        revoked, alive = rows[0]
        return bool(revoked) or not alive

    def _connection(self) -> Any:
        local = self._local
        stamp = (os.getpid(), self._generation)  # never share one across a fork
        if getattr(local, "generation", None) != stamp:
            fairy = self.engine.raw_connection()
            driver: Any = fairy.driver_connection
            fairy.detach()  # ours for good: not counted by the pool, closed in close()
            if hasattr(driver, "autocommit"):  # psycopg: no transaction left open
                fairy.rollback()
                driver.autocommit = True
            # a thread's connection outlives it in ``_open``: servers retire idle
            # threads (granian after --blocking-threads-idle-timeout, 30 s by
            # default), so close those of finished threads, or every new thread
            # would add a connection for good
            with self._lock:
                finished = [other for t, other in self._open if not t.is_alive()]
                self._open = [(t, other) for t, other in self._open if t.is_alive()]
                self._open.append((threading.current_thread(), driver))
            for other in finished:
                self._close(other)
            local.driver, local.generation = driver, stamp
        return local.driver

    def close(self, *args: object) -> None:
        """Close every connection (the engine was disposed); threads reconnect on use."""
        with self._lock:
            opened, self._open = self._open, []
            self._generation += 1
        for _thread, driver in opened:
            self._close(driver)

    def open_connections(self) -> int:
        """How many connections the look-up holds (at most one per live thread)."""
        with self._lock:
            return len(self._open)

    def _close(self, driver: Any) -> None:
        try:
            driver.close()
        except self._errors:  # already broken, or SQLite's other-thread check
            pass


def supported(engine: Engine) -> bool:
    """A file or server database (an in-memory SQLite is private to one connection)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return bool(url.database) and url.database != ":memory:" and "mode=memory" not in str(url)
    return url.get_backend_name() == "postgresql"
