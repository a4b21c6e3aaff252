"""Files that several workers may try to create at the same moment."""

import os
import tempfile
from pathlib import Path


def write_once(path, data):
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


def write_atomic(path, data):
    """Replace ``path`` with ``data`` in one step (readers see old or new)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(_write_temp(path, data), path)


def _write_temp(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    return tmp
