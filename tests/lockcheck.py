"""Read requirements/*.lock, and compare an environment with one.

``python tests/lockcheck.py requirements/test.lock`` exits 1, naming each package,
when what is installed here is not what the lock pins; tox runs it before the tests
(tox.ini), so the README's test command proves its environment is the lock.
"""

import re
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def entries(path):
    """``{name: (version, marker or None, hashes)}`` of a lock file."""
    text = Path(path).read_text()
    found = {}
    # one entry: "name==version [; marker] \" then "--hash=..." lines, then "# via" comments
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.strip()):
        head = block.split("\\", 1)[0].strip()
        requirement = Requirement(head)
        (spec,) = requirement.specifier
        if spec.operator != "==":
            raise ValueError(f"not an exact pin: {head}")
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        found[canonicalize_name(requirement.name)] = (spec.version, requirement.marker, hashes)
    return found


def drift(path, installed: Callable[[str], str] = metadata.version):
    """``{name: (installed, locked)}`` for each package the lock selects here (its marker)
    whose installed version differs (``"missing"`` when it is not installed)."""
    wrong = {}
    for name, (version, marker, _) in entries(path).items():
        if marker is not None and not marker.evaluate():
            continue
        try:
            have = installed(name)
        except metadata.PackageNotFoundError:
            have = "missing"
        if have == "missing" or Version(have) != Version(version):
            wrong[name] = (have, version)
    return wrong


if __name__ == "__main__":
    (lock,) = sys.argv[1:]
    differences = drift(lock)
    for name, (have, locked) in sorted(differences.items()):
        print(f"{name}: installed {have}, {lock} pins {locked}", file=sys.stderr)
    sys.exit(1 if differences else 0)
