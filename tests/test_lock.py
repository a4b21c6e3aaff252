"""requirements/*.lock: every dependency pinned and hash-checked, and what tox installs.

The lock files are made by requirements/lock.sh (uv pip compile --generate-hashes)
from pyproject.toml; tox installs them before the package, so two CI runs a month
apart test the same code. These tests fail when pyproject.toml asks for something
the lock does not hold, when an entry lacks an exact pin or a hash, and when the
check tox runs before the tests (tests/lockcheck.py: is what is installed the
lock?) misses a difference.
"""

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from lockcheck import drift
from lockcheck import entries as read_entries
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = {
    "main.lock": PROJECT["dependencies"],
    "test.lock": PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"],
}


def entries(lock):
    return read_entries(ROOT / "requirements" / lock)


@pytest.mark.parametrize("lock", LOCKS)
def test_every_entry_is_pinned_with_hashes(lock):
    locked = entries(lock)
    assert len(locked) >= len(LOCKS[lock])
    assert all(hashes for _, _, hashes in locked.values()), lock


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_satisfies_pyproject(lock):
    locked = entries(lock)
    for line in LOCKS[lock]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements/{lock}: run requirements/lock.sh"
        version = locked[name][0]
        assert Version(version) in requirement.specifier, (line, version)


def test_the_runtime_lock_agrees_with_the_test_lock():
    runtime, test = entries("main.lock"), entries("test.lock")
    assert {name: pin[0] for name, pin in runtime.items()} == {
        name: test[name][0] for name in runtime
    }


def test_an_environment_that_is_not_the_lock_is_named():
    """What tox runs before the tests (tests/lockcheck.py), given a fake environment:
    it passes on the lock's own versions and names a changed or missing package."""
    lock = ROOT / "requirements" / "test.lock"
    pinned = {name: version for name, (version, _, _) in entries("test.lock").items()}
    assert drift(lock, pinned.__getitem__) == {}
    changed = {**pinned, "flask": "0.1"}
    assert drift(lock, changed.__getitem__) == {"flask": ("0.1", pinned["flask"])}

    def without_redis(name):
        if name == "redis":
            raise metadata.PackageNotFoundError(name)
        return pinned[name]

    assert drift(lock, without_redis) == {"redis": ("missing", pinned["redis"])}
