"""Helpers for the client tests: artefacts, Chromium, the generated SDK, the resource server."""

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from helpers import missing_tool
from live import ROOT, _wait_ready, free_port

ARTIFACTS = ROOT / "artifacts"
SPEC = ROOT / "openapi" / "openapi.json"
SDK_CONFIG = ROOT / "openapi" / "client-config.yaml"
SDK_PACKAGE = "jwt_auth_api_client"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

written = []


def artefact(*parts):
    """A path under ``artifacts/`` (git-ignored), listed in the terminal summary."""
    path = ARTIFACTS.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    written.append(path)
    return path


def chromium_path(playwright=None):
    """The Chromium the browser tests drive.

    ``CHROMIUM_PATH``, else Debian's ``chromium``, else the browser Playwright manages
    (``playwright install chromium``); the tests never download one. None found: a
    skip locally, a failure in CI (``.ci/run`` installs Debian's chromium).
    """
    for candidate in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    managed = playwright.chromium.executable_path if playwright is not None else None
    if managed and Path(managed).is_file():
        return managed
    missing_tool(
        "no Chromium: install Debian's `chromium`, set CHROMIUM_PATH, "
        "or run `playwright install chromium`"
    )


def generate_sdk(destination):
    """Generate the Python client from the committed spec; return the folder to import from."""
    command = [
        sys.executable, "-m", "openapi_python_client", "generate",
        "--path", str(SPEC),
        "--config", str(SDK_CONFIG),
        "--meta", "none",
        "--output-path", str(destination / SDK_PACKAGE),
        "--fail-on-warning",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"client generation failed:\n{result.stdout}\n{result.stderr}"
    return destination


@contextmanager
def resource_server(auth_api_url, log_dir, env=None):
    """examples/resource_server.py under gunicorn (1 worker); yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "resource_server:create_app()",
        "--chdir", str(ROOT / "examples"),
        "--workers", "1",
        "--bind", f"127.0.0.1:{port}",
        "--no-control-socket",
        "--graceful-timeout", "5",
    ]  # fmt: skip
    log = Path(log_dir) / f"resource-server-{port}.log"
    env = {**os.environ, "AUTH_API_URL": auth_api_url, **(env or {})}
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log, 30)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)
