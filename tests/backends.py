"""Test isolation on real servers: a PostgreSQL schema and a Redis key prefix per run.

With ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` unset the suite runs on the
embedded defaults and none of this is used.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import redis
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

DATABASE_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
TABLES = ("refresh_tokens", "revocations", "users")


def on_postgres():
    return bool(DATABASE_URL) and DATABASE_URL.startswith(("postgres://", "postgresql"))


def unique(tag):
    return f"t_{tag}_{uuid.uuid4().hex[:12]}"


def libpq(url):
    """A SQLAlchemy URL as a libpq connection string psycopg understands."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgres_schema(url=DATABASE_URL, tag="run"):
    """Create a fresh schema, yield a URL whose connections use it, drop it after."""
    schema = unique(tag)
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(libpq(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def truncate(url):
    """Empty the app's tables (and restart ids) between tests, if they exist yet."""
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        connection.execute("SET lock_timeout = '10s'")  # fail, never hang, on a stray lock
        present = [
            table
            for table in TABLES
            if connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
        ]
        if present:
            connection.execute(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")


@contextmanager
def tracked_engines():
    """Collect every SQLAlchemy engine that connects inside the block.

    Strong references: an app a test drops is not collected (with open
    connections, a ResourceWarning) before the engine is disposed.
    """
    engines = set()

    def remember(connection):
        engines.add(connection.engine)

    event.listen(Engine, "engine_connect", remember)
    try:
        yield engines
    finally:
        event.remove(Engine, "engine_connect", remember)


def redis_prefix(tag="run"):
    return unique(tag) + ":"


def delete_prefixed(prefix, client=None):
    """Delete every Redis key under ``prefix``; return how many."""
    own = client is None
    client = client or redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        if own:
            client.close()


class RedisServer:
    """A redis-server of the test's own on a free port, stoppable mid-test.

    ``appendonly`` keeps its data across :meth:`stop` / :meth:`start`, like a
    production Redis with persistence.
    """

    def __init__(self, directory, *, persist=True):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persist = persist
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        command = [
            shutil.which("redis-server") or "redis-server",
            "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
            "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self):
        """Freeze the server (SIGSTOP): connections open, no answers, like a hung host."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.resume()
        self.stop()


def have_redis_server():
    return shutil.which("redis-server") is not None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 to a real server, to cut and restore the network.

    :meth:`cut` drops every open connection and closes the port (new
    connections are refused); :meth:`restore` opens it again. The server
    behind it (shared by others) is never touched.
    """

    def __init__(self, host, port):
        self.target = (host, port)
        self.port = free_port()
        self._listener = None
        self._sockets = set()
        self._lock = threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                self._close(sock)

    def _close(self, sock):
        with self._lock:
            self._sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self):
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cut()
