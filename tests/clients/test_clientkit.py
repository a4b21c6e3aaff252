"""Which Chromium the browser tests use, and what happens when there is none."""

from types import SimpleNamespace

import pytest
from clientkit import chromium_path


@pytest.fixture
def no_system_chromium(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no chromium on PATH


def managed(path):
    """A stand-in for sync_playwright()'s object: only ``chromium.executable_path``."""
    return SimpleNamespace(chromium=SimpleNamespace(executable_path=str(path)))


def test_chromium_path_wins(monkeypatch, tmp_path):
    browser = tmp_path / "my-chromium"
    browser.write_text("")
    browser.chmod(0o755)
    monkeypatch.setenv("CHROMIUM_PATH", str(browser))
    assert chromium_path(managed(tmp_path / "elsewhere")) == str(browser)


def test_playwrights_managed_browser_is_accepted(no_system_chromium, tmp_path):
    browser = tmp_path / "chrome-linux" / "chrome"
    browser.parent.mkdir()
    browser.write_text("")
    assert chromium_path(managed(browser)) == str(browser)


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_no_browser_skips_locally_and_fails_in_ci(
    no_system_chromium, monkeypatch, tmp_path, ci, outcome
):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="playwright install chromium"):
        chromium_path(managed(tmp_path / "not-installed"))
