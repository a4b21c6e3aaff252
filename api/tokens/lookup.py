"""The per-request revocation look-up on a persistent DBAPI connection.

Going through the ORM session costs a pool check-out (with its pre-ping), a
transaction and statement compilation on every request; an indexed primary-key
look-up on a connection kept open by each worker thread costs a few µs. The
connection reads in autocommit mode, so each look-up sees every revocation
committed before it, by any worker.
"""

import os
import threading

from .models import Revocation

TABLE = Revocation.__tablename__


class RevocationLookup:
    """``lookup(keys)``: whether any of ``keys`` is in the revocations table."""

    def __init__(self, engine):
        self.engine = engine
        self._local = threading.local()
        self._placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._errors = engine.dialect.loaded_dbapi.Error
        self._sql = {}

    def __call__(self, keys):
        keys = tuple(keys)
        try:
            return self._query(keys)
        except self._errors:
            self._drop()  # a broken connection (server restart): one retry on a new one
            return self._query(keys)

    def _query(self, keys):
        sql = self._sql.get(len(keys))
        if sql is None:
            marks = ", ".join([self._placeholder] * len(keys))
            sql = self._sql[len(keys)] = f'SELECT 1 FROM {TABLE} WHERE "key" IN ({marks}) LIMIT 1'  # noqa: S608
        cursor = self._connection().cursor()
        try:
            cursor.execute(sql, keys)
            return bool(cursor.fetchall())  # fetch all: no read transaction left open
        finally:
            cursor.close()

    def _connection(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # never share one across a fork
            fairy = self.engine.raw_connection()
            driver = fairy.driver_connection
            if hasattr(driver, "autocommit"):
                fairy.rollback()
                driver.autocommit = True
            local.fairy, local.driver, local.pid = fairy, driver, os.getpid()
        return local.driver

    def _drop(self):
        fairy = getattr(self._local, "fairy", None)
        self._local.pid = None
        if fairy is not None:
            fairy.invalidate()


def supported(engine):
    """A file or server database (an in-memory SQLite is private to one connection)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return bool(url.database) and url.database != ":memory:" and "mode=memory" not in str(url)
    return url.get_backend_name() == "postgresql"
