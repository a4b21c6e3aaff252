"""Fixtures for the client tests: headless Chromium, a generated SDK; artefacts listed."""

import sys
from pathlib import Path

import pytest
from clientkit import CHROMIUM_ARGS, ROOT, SDK_PACKAGE, chromium_path, generate_sdk, written


def pytest_terminal_summary(terminalreporter):
    existing = [path for path in written if path.exists()]
    if existing:
        terminalreporter.section("client test artefacts")
        for path in existing:
            terminalreporter.write_line(str(path.relative_to(ROOT)))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(playwright), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def sdk_path(tmp_path_factory):
    """The generated client package, importable as ``jwt_auth_api_client``."""
    folder = str(generate_sdk(tmp_path_factory.mktemp("sdk")))
    sys.path.insert(0, folder)
    yield Path(folder)
    sys.path.remove(folder)
    for name in [name for name in sys.modules if name.split(".")[0] == SDK_PACKAGE]:
        del sys.modules[name]
