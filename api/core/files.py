"""Files that several workers may try to create at the same moment."""

import os
import tempfile
from pathlib import Path


def write_once(path: str | Path, data: bytes) -> bytes:
    """Create ``path`` holding ``data`` unless it exists; return what it holds.

    The content is written to a temporary file first and then hard-linked into
    place, so a reader never sees a half-written file and, when workers race,
    exactly one of them wins and all of them return the winner's bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_temp(path, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (readers see old or new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(_write_temp(path, data), path)


def _write_temp(path: Path, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    return tmp


def private_directory(path: str | Path) -> None:
    """Make ``path`` (and missing parents) and leave it readable by its owner only."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def private_sqlite_files(database: str) -> None:
    """Create an SQLite database file owner-only (0600) before SQLite opens it.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode, so
    they follow; files left by an older version are narrowed too.
    """
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass
