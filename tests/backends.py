"""Test isolation on real servers: a PostgreSQL schema and a Redis key prefix per run.

With ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` unset the suite runs on the
embedded defaults and none of this is used.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
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
            f'"{name}"'
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            ).fetchall()
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

    def __init__(self, directory, *, persist=True, port=None, args=()):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persist = persist
        self.args = list(args)  # more redis-server options, e.g. ["--maxmemory", "1mb"]
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *args):
        """Start (or restart) the server; ``args`` are more redis-server options."""
        command = [
            shutil.which("redis-server") or "redis-server",
            "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
            "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log"),
            *self.args,
            *args,
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
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self):
        """SIGKILL: the host dies, nothing is flushed or handed over."""
        self.process.kill()
        self.process.wait()
        self.process = None

    def pause(self):
        """Freeze the server (SIGSTOP): connections open, no answers, like a hung host."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.resume()
        self.stop()


class RedisSentinelGroup:
    """A Redis primary, its replicas and sentinels, all of the test's own, on loopback.

    ``url`` is the ``redis+sentinel://`` URL of the group; :meth:`kill_primary`
    SIGKILLs whichever server the sentinels name as primary. Everything is
    stopped by PID on exit, even when the test fails.
    """

    SERVICE = "mymaster"

    def __init__(self, directory, *, replicas=1, sentinels=3, down_after_ms=1000):
        self.directory = Path(directory)
        self.servers = [RedisServer(self.directory / f"redis-{n}") for n in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels = []
        self.down_after_ms = down_after_ms
        self.quorum = sentinels // 2 + 1

    @property
    def url(self):
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.SERVICE}/0"

    # replicas sync at once (Redis waits 5 s by default for more to join a diskless sync)
    OPTIONS = ("--repl-diskless-sync-delay", "0")

    def start(self):
        primary, *replicas = self.servers
        primary.start(*self.OPTIONS)
        for replica in replicas:
            self._start_replica(replica, primary)
        for number, port in enumerate(self.sentinel_ports):
            directory = self.directory / f"sentinel-{number}"
            directory.mkdir(parents=True, exist_ok=True)
            conf = directory / "sentinel.conf"  # sentinel rewrites it: its own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"logfile {directory / 'sentinel.log'}\n"
                f"sentinel monitor {self.SERVICE} 127.0.0.1 {primary.port} {self.quorum}\n"
                f"sentinel down-after-milliseconds {self.SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.SERVICE} 10000\n"
                f"sentinel parallel-syncs {self.SERVICE} 1\n"
            )
            command = [shutil.which("redis-server") or "redis-server", str(conf), "--sentinel"]
            self.sentinels.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        wait_until(self._settled, 30, "sentinels did not see the whole group")
        return self

    def _start_replica(self, server, primary):
        server.start(*self.OPTIONS, "--replicaof", "127.0.0.1", str(primary.port))
        wait_until(lambda: self._in_sync(server, primary), 30, "a replica did not sync")

    def _in_sync(self, server, primary):
        info = self._ask(primary.port, "INFO", "replication") or {}
        return any(
            isinstance(value, dict) and value.get("port") == server.port
            and value.get("state") == "online"
            for value in info.values()
        )  # fmt: skip

    def _settled(self):
        """Every sentinel knows the primary, every replica and every other sentinel."""
        for port in self.sentinel_ports:
            state = self._ask(port, "SENTINEL", "MASTER", self.SERVICE)  # a dict of bytes
            if state is None:
                return False
            if int(state[b"num-slaves"]) < len(self.servers) - 1:
                return False
            if int(state[b"num-other-sentinels"]) < len(self.sentinel_ports) - 1:
                return False
        return True

    def _ask(self, port, *command):
        client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return client.execute_command(*command)
        except (redis.exceptions.ConnectionError, redis.exceptions.ResponseError):
            return None
        finally:
            client.close()

    def primary_port(self):
        """The primary's port as a majority of sentinels name it (None: no majority)."""
        votes = {}
        for port in self.sentinel_ports:
            answer = self._ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE)
            if answer:
                votes[int(answer[1])] = votes.get(int(answer[1]), 0) + 1
        found = [port for port, count in votes.items() if count >= self.quorum]
        return found[0] if found else None

    def server(self, port):
        return next(server for server in self.servers if server.port == port)

    def kill_primary(self):
        """SIGKILL the current primary; return its RedisServer (restartable)."""
        victim = self.server(self.primary_port())
        victim.kill()
        return victim

    def wait_failover(self, old_port, timeout=30):
        """Wait until the sentinels name a new primary that answers as one; return it."""

        def promoted():
            port = self.primary_port()
            if port in (None, old_port):
                return None
            role = self._ask(port, "ROLE")
            return self.server(port) if role and role[0] == b"master" else None

        return wait_until(promoted, timeout, "no failover")

    def rejoin(self, server, primary):
        """Restart a killed server as a replica of ``primary`` (what its supervisor does)."""
        self._start_replica(server, primary)

    def stop(self):
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
        for process in self.sentinels:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for server in self.servers:
            server.resume()
            server.stop()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb) on a free loopback port.

    It can be restarted and altered at will without touching the shared
    server. Run as the ``postgres`` user when the tests run as root (initdb
    refuses root). Stopped with ``pg_ctl`` (which signals the postmaster's PID),
    then by that PID if it is still there.
    """

    def __init__(self):
        # its own directory under the system temporary one: the postgres user must
        # reach it (pytest's tmp_path is private to root); removed by stop()
        self.directory = Path(tempfile.mkdtemp(prefix="jwt-auth-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.bin = postgres_bin()
        self.started = False

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, str(self.bin / command[0]), *command[1:]],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr}")

    def start(self):
        if not self.data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres")
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8")  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        log = str(self.directory / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        self.started = True
        return self

    def restart(self):
        """A fast restart: sessions are ended, new connections refused until it is up."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "restart")

    def execute(self, sql, params=None, database="postgres"):
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else None

    def stop(self):
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.SubprocessError):
                pid_file = self.data / "postmaster.pid"
                if pid_file.exists():
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            self.started = False
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def postgres_bin():
    """The directory of PostgreSQL's server programs (initdb, pg_ctl), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3])
    )
    return versions[-1].parent if versions else None


def wait_until(predicate, timeout, what):
    """Poll ``predicate`` until it returns something true (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {timeout}s")


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
