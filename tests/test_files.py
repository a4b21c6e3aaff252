"""Files on disk are the owner's only (issue 10 item 6): instance folder 0700, the
SQLite database and its -wal/-shm 0600, like the keys and the secret."""

import os
import stat

import backends
import pytest
from helpers import PASSWORD

from api import create_app


@pytest.fixture
def world_readable_umask():
    old = os.umask(0o022)  # the common default: new files 0644, folders 0755
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(backends.on_postgres(), reason="the SQLite files")
def test_instance_folder_and_database_files_are_private(tmp_path, world_readable_umask):
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "f" * 48})
    client = app.test_client()
    assert client.post("/auth/register", json={"username": "al", "password": PASSWORD})
    assert client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    database = instance / "app.sqlite"
    files = {p.name: mode(p) for p in instance.iterdir() if p.name.startswith("app.sqlite")}
    assert {"app.sqlite", "app.sqlite-wal", "app.sqlite-shm"} <= set(files)
    assert mode(instance) == 0o700
    assert files == dict.fromkeys(files, 0o600), files
    assert mode(instance / "keys") == 0o700
    assert database.stat().st_size > 0


@pytest.mark.skipif(backends.on_postgres(), reason="the SQLite files")
def test_files_left_readable_by_an_older_version_are_narrowed(tmp_path, world_readable_umask):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    for name in ("app.sqlite", "app.sqlite-wal", "app.sqlite-shm"):
        (instance / name).touch(mode=0o644)
    os.chmod(instance, 0o755)  # noqa: S103 - what an older version left
    create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "f" * 48})
    assert mode(instance) == 0o700
    for name in ("app.sqlite", "app.sqlite-wal", "app.sqlite-shm"):
        assert mode(instance / name) == 0o600
