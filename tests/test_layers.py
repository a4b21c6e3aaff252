"""The package's import graph: infrastructure knows no feature, and nothing is circular.

Every ``import`` in ``api/`` counts, also those inside functions: a lazy
import is still a dependency.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "api"
# infrastructure, then the features from lowest to highest; a package may
# import only itself and packages before it. `runtime` (the production server,
# `jwt-auth-api serve`) sits above the composition root: it alone may import `api`.
LAYERS = [
    "version",
    "core",
    "tokens",
    "users",
    "mfa",
    "auth",
    "sessions",
    "oauth",
    "health",
    "protected",
    "runtime",
]
ABOVE_THE_ROOT = {"runtime"}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path):
    """The ``api.*`` modules ``path`` imports, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if _ours(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not _ours(target):
                continue
            for alias in node.names:  # "from . import x" may name a submodule
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return {module for module in found if module != name}


def _ours(module):
    """``api`` and ``api.*``, not other packages whose names start with it (``apispec``)."""
    return module == "api" or module.startswith("api.")


def _exists(module):
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _graph():
    graph = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        graph[_module_name(path)] = _imports(path)
    return graph


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _layer(m) != "api"))
def test_imports_point_down_the_layers(module):
    own = LAYERS.index(_layer(module))
    root_allowed = _layer(module) in ABOVE_THE_ROOT
    upward = sorted(
        target
        for target in GRAPH[module]
        if (target == "api" and not root_allowed)
        or (target != "api" and LAYERS.index(_layer(target)) > own)
    )
    assert not upward, f"{module} imports a higher layer: {upward}"


def test_no_import_cycles():
    visiting, done, cycles = [], set(), []

    def visit(module):
        if module in done:
            return
        if module in visiting:
            cycles.append([*visiting[visiting.index(module) :], module])
            return
        visiting.append(module)
        for target in sorted(GRAPH.get(module, ())):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_graph_is_read():
    """The checks above see real edges (guards against a parser that finds nothing)."""
    assert "api.core.errors" in GRAPH["api.core.extensions"]
    assert "api.tokens.service" in GRAPH["api.users.service"]
    assert "api" in GRAPH["api.runtime.wsgi"]
