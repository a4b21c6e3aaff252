"""The per-request revocation look-up on a persistent DBAPI connection.

Going through the ORM session costs a pool check-out (with its pre-ping), a
transaction and statement compilation on every request; an indexed primary-key
look-up on a connection kept open by each worker thread costs a few µs. The
connection reads in autocommit mode, so each look-up sees every revocation
committed before it, by any worker. It is detached from the pool and closed
when the engine is disposed. On any driver error the look-up answers None and
the caller asks through the session, which reconnects or reports the outage.
"""

import os
import threading

from sqlalchemy import event

from .models import Revocation

TABLE = Revocation.__tablename__


class RevocationLookup:
    """``lookup(keys)``: whether any of ``keys`` is revoked, or None when it cannot tell."""

    def __init__(self, engine):
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open = []
        self._generation = 0
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._errors = engine.dialect.loaded_dbapi.Error
        self._sql = {}
        event.listen(engine, "engine_disposed", self.close)

    def __call__(self, keys):
        try:
            return self._query(tuple(keys))
        except self._errors:
            self._local.generation = None  # reconnect next time
            return None

    def _query(self, keys):
        sql = self._sql.get(len(keys))
        if sql is None:
            marks = ", ".join([self._placeholder] * len(keys))
            sql = f'SELECT 1 FROM {TABLE} WHERE "key" IN ({marks}) LIMIT 1'  # noqa: S608
            self._sql[len(keys)] = sql
        cursor = self._connection().cursor()
        try:
            cursor.execute(sql, keys)
            return bool(cursor.fetchall())  # fetch all: no read transaction left open
        finally:
            cursor.close()

    def _connection(self):
        local = self._local
        stamp = (os.getpid(), self._generation)  # never share one across a fork
        if getattr(local, "generation", None) != stamp:
            fairy = self.engine.raw_connection()
            driver = fairy.driver_connection
            fairy.detach()  # ours for good: not counted by the pool, closed in close()
            if hasattr(driver, "autocommit"):  # psycopg: no transaction left open
                fairy.rollback()
                driver.autocommit = True
            with self._lock:
                self._open.append(driver)
            local.driver, local.generation = driver, stamp
        return local.driver

    def close(self, *args):
        """Close every connection (the engine was disposed); threads reconnect on use."""
        with self._lock:
            opened, self._open = self._open, []
            self._generation += 1
        for driver in opened:
            try:
                driver.close()
            except self._errors:  # already broken
                pass


def supported(engine):
    """A file or server database (an in-memory SQLite is private to one connection)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return bool(url.database) and url.database != ":memory:" and "mode=memory" not in str(url)
    return url.get_backend_name() == "postgresql"
