"""`jwt-auth-api serve`: from an installed wheel, every server, worker respawn, stuck requests.

The wheel test builds the package, installs it into a fresh virtualenv in a
temporary directory (its dependencies come from this environment's
site-packages through a ``.pth`` line; the package itself only from the wheel)
and runs the console script from a directory without the checkout.
"""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import backends
import pytest
from helpers import PASSWORD
from live import ROOT, call, server, together

from api.runtime import settings

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv holding the wheel built from this checkout; its bin folder."""
    folder = tmp_path_factory.mktemp("wheel")
    # from a clean copy: a stale build/ in the checkout would slip old files into the wheel
    source = folder / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".*", "build", "dist", "instance", "artifacts", "results", "*.egg-info", "__pycache__"
        ),
    )
    # the venv's own pip (ensurepip) builds and installs: the test environment may have none
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    build = subprocess.run(
        [str(python), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = folder.glob("jwt_auth_api-*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies, after the venv's own site-packages (so `api` is the wheel's)
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_wheel_is_what_runs(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "python"), "-c", "import api; print(api.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed.parent)), where


@pytest.mark.parametrize("server_name", settings.SERVERS)
def test_serve_from_an_installed_wheel(installed, tmp_path, server_name):
    """Each server starts from the wheel, outside the checkout, and stops cleanly on SIGTERM."""
    command = [str(installed / "jwt-auth-api"), "serve"]
    env = {"SERVER": server_name}
    with server(tmp_path / "instance", env=env, command=command, cwd=tmp_path) as running:
        status, _, body = call(running.base, "GET", "/livez")
        assert (status, body) == (200, {"status": "ok"})
        body = {"username": "wheel", "password": PASSWORD}
        assert call(running.base, "POST", "/auth/register", body)[0] == 201
        assert call(running.base, "POST", "/auth/login", body)[0] == 200
        started = [r for r in running.records() if r.get("message") == "serving"]
        assert started and started[0]["server"] == server_name
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=15) == 0
    # migrations ran once, before the workers: only the pre-start process logged them
    upgrades = {
        r["pid"] for r in running.records("alembic.runtime.migration") if "upgrade" in r["message"]
    }
    assert len(upgrades) == 1


def _worker_pids(running, count, timeout=30):
    """Send requests until ``count`` distinct workers have answered; their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        together(8, call, running.base, "GET", "/livez")
        pids = {pid for _, pid in running.access_lines("GET", "/livez")}
        if len(pids) >= count:
            return pids
    raise AssertionError(f"fewer than {count} workers answered in {timeout}s")


def _attempt(base, path):
    """GET ``path``; its status, or None when the connection failed."""
    try:
        return call(base, "GET", path, timeout=5)[0]
    except OSError:
        return None


@pytest.mark.parametrize("server_name", settings.SERVERS)
def test_a_killed_worker_is_replaced(tmp_path, server_name):
    """SIGKILL one worker: the supervisor starts another, which serves within seconds."""
    with server(tmp_path / "instance", env={"SERVER": server_name}) as running:
        pids = _worker_pids(running, 2)
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        new = set()
        while not new and time.monotonic() - killed < 20:
            together(4, _attempt, running.base, "/livez")
            new = {pid for _, pid in running.access_lines("GET", "/livez")} - pids
        assert new, "no new worker answered within 20 s"
        # then every request is answered again
        assert set(together(8, _attempt, running.base, "/livez")) == {200}


@pytest.mark.redis_server
@pytest.mark.parametrize("server_name", [settings.GRANIAN, settings.GUNICORN_GTHREAD])
def test_a_request_stuck_on_a_hung_backend_is_bounded(tmp_path, server_name):
    """Redis frozen and a 60 s socket timeout: REQUEST_TIMEOUT (2 s) ends the request."""
    with backends.RedisServer(tmp_path / "redis", persist=False) as redis_server:
        env = {
            "SERVER": server_name,
            "REDIS_URL": redis_server.url,
            "FLASK_REDIS_SOCKET_TIMEOUT": "60",
            "REQUEST_TIMEOUT": "2",
        }
        with server(tmp_path / "instance", env=env, workers=1) as running:
            body = {"username": "stuck", "password": PASSWORD}
            assert call(running.base, "POST", "/auth/register", body)[0] == 201
            token = call(running.base, "POST", "/auth/login", body)[2]["access_token"]
            redis_server.pause()
            started = time.monotonic()
            with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
                call(running.base, "GET", "/protected", token=token, timeout=30)
            assert time.monotonic() - started < 10
            redis_server.resume()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if call(running.base, "GET", "/protected", token=token, timeout=5)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                raise AssertionError("the replacement worker did not serve within 20 s")
            stuck = [r for r in running.records("api.runtime.watchdog")]
            assert stuck and stuck[0]["path"] == "/protected"
