"""A real gunicorn serving the app on 127.0.0.1, for tests of real clients."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import backends
from backends import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """A running gunicorn: its base URL and the file its log (and access log) goes to."""

    base: str
    log: Path

    def access_lines(self, method, path):
        """Access-log lines ``(status, pid)`` of requests to ``method path``, in order."""
        pattern = re.compile(rf'"{method} {re.escape(path)}" (\d{{3}}) .* pid=<?(\d+)>?')
        return [
            (int(match[1]), int(match[2]))
            for match in map(pattern.search, self.log.read_text().splitlines())
            if match
        ]


@contextmanager
def gunicorn(instance_path, **kwargs):
    """Run ``gunicorn 'api:create_app()'``; yield its base URL; stop it after."""
    with server(instance_path, **kwargs) as running:
        yield running.base


@contextmanager
def server(instance_path, *, workers=2, env=None, timeout=30):
    """Run gunicorn with its own database (schema) and Redis prefix; yield a Server."""
    with ExitStack() as stack:
        isolated = {}
        if backends.on_postgres():
            isolated["DATABASE_URL"] = stack.enter_context(backends.postgres_schema(tag="live"))
        if backends.REDIS_URL:
            prefix = backends.redis_prefix("live")
            isolated["FLASK_REDIS_KEY_PREFIX"] = prefix
            stack.callback(backends.delete_prefixed, prefix)
        running = stack.enter_context(
            _gunicorn(instance_path, workers, {**isolated, **(env or {})}, timeout)
        )
        yield running


@contextmanager
def _gunicorn(instance_path, workers, env, timeout):
    port = free_port()
    environment = {
        **os.environ,
        "INSTANCE_PATH": str(instance_path),
        "FLASK_SECRET_KEY": "live-test-" + "k" * 40,
        "FLASK_RATELIMIT_ENABLED": "false",
        **env,
    }
    command = [
        sys.executable, "-m", "gunicorn", "api:create_app()",
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--no-control-socket",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    log = Path(instance_path).parent / f"gunicorn-{port}.log"
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log, timeout)
            yield Server(base, log)
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
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn not ready in {timeout}s:\n{log.read_text()}")


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
