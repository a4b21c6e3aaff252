"""Fault behaviour of a server: workers SIGKILLed, a request stuck on a hung backend."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from . import setup
from .server import free_port


def kill_workers(target, timeout=60.0):
    """SIGKILL every worker; seconds until replacements run and ``/health`` answers 200."""
    server = target.server
    old = set(server.worker_pids())
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        fresh = set(server.worker_pids()) - old
        if len(fresh) >= server.workers and server.answers("/health", timeout=1):
            return {"killed": len(old), "serving_s": round(time.monotonic() - started, 2)}
        time.sleep(0.05)
    return {"killed": len(old), "serving_s": None}


def _get(url, token, timeout):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = None  # no answer in time, or the connection dropped
    return status, round(time.monotonic() - started, 2)


def hung_backend(workdir, *, kind, client_timeout=60.0):
    """Our app with its token store on a private Redis that stops answering (SIGSTOP).

    Returns the status and seconds of a ``/protected`` request made while Redis is
    stopped, and whether the server answers 200 again once Redis resumes.
    """
    binary = shutil.which("redis-server")
    if not binary:
        return {"skipped": "redis-server is not installed"}
    port = free_port()
    data = tempfile.mkdtemp(prefix="bench-redis-")
    redis = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    target = None
    try:
        url = setup.redis_url(f"redis://127.0.0.1:{port}/0", wait=10)
        target = setup.api_target(f"hang-{kind}", workdir, kind=kind, redis_url=url)
        protected = target.server.base + "/protected"
        before = _get(protected, target.token, 10)
        redis.send_signal(signal.SIGSTOP)
        try:
            status, seconds = _get(protected, target.token, client_timeout)
        finally:
            redis.send_signal(signal.SIGCONT)
        recovered = None
        for _ in range(50):
            after = _get(protected, target.token, 10)
            if after[0] == 200:
                recovered = True
                break
            time.sleep(0.1)
        return {
            "before": before[0], "status": status, "seconds": seconds,
            "recovered": bool(recovered),
        }  # fmt: skip
    finally:
        if target:
            target.server.stop()
        redis.terminate()
        redis.wait()
        shutil.rmtree(data, ignore_errors=True)
