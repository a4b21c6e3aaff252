"""A real gunicorn serving the app on 127.0.0.1, for tests of real clients."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(instance_path, *, workers=2, env=None, timeout=30):
    """Run ``gunicorn 'api:create_app()'``; yield its base URL; stop it after."""
    port = free_port()
    environment = {
        **os.environ,
        "INSTANCE_PATH": str(instance_path),
        "FLASK_SECRET_KEY": "live-test-" + "k" * 40,
        "FLASK_RATELIMIT_ENABLED": "false",
        **(env or {}),
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
            yield base
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
