"""The production server (`jwt-auth-api serve`) on 127.0.0.1, for tests of real clients."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import backends
from backends import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """A running server: its base URL, the file its output goes to, its process."""

    base: str
    log: Path
    process: subprocess.Popen
    # what points a command (``flask --app api ...``) at this server's data
    env: dict = field(default_factory=dict)

    def records(self, logger=None):
        """The JSON log records written so far (of ``logger`` only, if given)."""
        found = []
        text = self.log.read_text()
        # whole lines only: a worker's write may be under way as this reads
        for line in text[: text.rfind("\n") + 1].splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if logger is None or record["logger"] == logger:
                    found.append(record)
        return found

    def wait_for(self, condition, timeout=10):
        """Poll ``condition()`` until it is true (access lines are flushed every 0.25 s)."""
        deadline = time.monotonic() + timeout
        while not (result := condition()):
            if time.monotonic() > deadline:
                return result
            time.sleep(0.05)
        return result

    def access_lines(self, method, path):
        """Access-log records ``(status, pid)`` of requests to ``method path``, in order."""
        return [
            (record["status"], record["pid"])
            for record in self.records("api.access")
            if record["method"] == method and record["path"] == path
        ]


@contextmanager
def gunicorn(instance_path, **kwargs):
    """Run ``jwt-auth-api serve`` (the default server); yield its base URL; stop it after.

    (The name is historical: the live tests started gunicorn before ``serve`` existed.)
    """
    with server(instance_path, **kwargs) as running:
        yield running.base


@contextmanager
def server(instance_path, *, workers=2, env=None, timeout=120, command=None, cwd=ROOT):
    """Run ``serve`` with its own database (schema) and Redis prefix; yield a Server."""
    with ExitStack() as stack:
        isolated = {}
        if backends.on_postgres():
            isolated["DATABASE_URL"] = stack.enter_context(backends.postgres_schema(tag="live"))
        if backends.REDIS_URL:
            prefix = backends.redis_prefix("live")
            isolated["FLASK_REDIS_KEY_PREFIX"] = prefix
            stack.callback(backends.delete_prefixed, prefix)
        environment = {**isolated, **(env or {})}
        running = stack.enter_context(
            _serve(instance_path, workers, environment, timeout, command, cwd)
        )
        running.env = {"INSTANCE_PATH": str(instance_path), **environment}
        yield running


def serve_command():
    """``jwt-auth-api serve`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("jwt-auth-api")
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "api.runtime", "serve"]  # the same code, not installed


@contextmanager
def _serve(instance_path, workers, env, timeout, command, cwd):
    port = free_port()
    environment = {
        **os.environ,
        "INSTANCE_PATH": str(instance_path),
        "FLASK_SECRET_KEY": "live-test-" + "k" * 40,
        "FLASK_RATELIMIT_ENABLED": "false",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GRACEFUL_TIMEOUT": "5",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes its own
    log = Path(instance_path).parent / f"serve-{port}.log"
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        # a command may name the address it must listen on as "{bind}"
        command = [part.replace("{bind}", f"127.0.0.1:{port}") for part in command or []]
        process = subprocess.Popen(
            command or serve_command(),
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log, timeout)
            yield Server(base, log, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base, process, log, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server was not ready in {timeout}s:\n{log.read_text()}")


def call(base, method, path, body=None, token=None, timeout=15):
    """One HTTP request with urllib; returns ``(status, headers, parsed JSON or None)``."""
    request = urllib.request.Request(base + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def together(count, function, *args):
    """Run ``function(*args)`` in ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def task():
        barrier.wait(timeout=30)
        return function(*args)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return [future.result() for future in [pool.submit(task) for _ in range(count)]]
