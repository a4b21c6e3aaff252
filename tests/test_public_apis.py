"""api/ uses libraries through their public interfaces; each private hook left is pinned.

A private helper or attribute of a dependency can change in any release. The
token path uses none (PyJWT's public ``jwt.decode`` and our key ring). The two
flask-smorest hooks overridden in api/core/extensions.py, the webargs ones in
api/core/jsonbody.py and the redis-py pipeline hooks in api/core/redisdb.py are
pinned: an upper bound in pyproject.toml, and the signatures below; a new
release that changes them fails here before it can silently change behaviour.
"""

import ast
import importlib
import inspect
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "api").rglob("*.py"))
# modules of flask-jwt-extended that are its public, documented interface
JWT_PUBLIC = {"flask_jwt_extended", "flask_jwt_extended.exceptions"}
# (base class, method): the private hooks still overridden, and their parameters
PINNED = {
    ("webargs.flaskparser.FlaskParser", "_raw_load_json"): ["self", "req"],
    ("webargs.flaskparser.FlaskParser", "_handle_invalid_json_error"): [
        "self",
        "error",
        "req",
        "args",
        "kwargs",
    ],
    ("flask_smorest.spec.APISpecMixin", "_register_responses"): ["self"],
    ("flask_smorest.pagination.PaginationMixin", "_document_pagination_metadata"): [
        "self",
        "spec",
        "resp_doc",
    ],
    # api/core/redisdb.py: WAIT on the connection that wrote (durable writes, Sentinel)
    ("redis.client.Pipeline", "_execute_transaction"): [
        "self",
        "connection",
        "commands",
        "raise_on_error",
    ],
    ("redis.client.Pipeline", "_execute_pipeline"): [
        "self",
        "connection",
        "commands",
        "raise_on_error",
    ],
}
PINNED_DISTRIBUTIONS = ("flask-smorest", "webargs", "redis")


def third_party(module):
    top = module.split(".")[0]
    return top != "api" and top not in sys.stdlib_module_names


def imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_import_from_a_dependency(path):
    tree = ast.parse(path.read_text())
    for module, names in imports(tree):
        if not third_party(module):
            continue
        assert not any(part.startswith("_") for part in module.split(".")), module
        assert not any(name.startswith("_") for name in names), (module, names)
        if module.startswith("flask_jwt_extended"):
            assert module in JWT_PUBLIC, module


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_library_state_written_by_hand(path):
    assert not re.search(r"\b_jwt_extended_", path.read_text())


def overridden_private_methods():
    """(base, method) for each ``_method`` of a third-party base class overridden in api/."""
    import api.core.extensions
    import api.core.jsonbody
    import api.core.redisdb
    import api.tokens.security

    found = set()
    # the modules that subclass framework classes (marshmallow's documented
    # ``_serialize``/``_deserialize`` field hooks elsewhere are public API)
    modules = (api.core.extensions, api.core.jsonbody, api.core.redisdb, api.tokens.security)
    for module in modules:
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if not cls.__module__.startswith("api"):
                continue
            for method, value in vars(cls).items():
                if not (inspect.isfunction(value) and re.match(r"^_[^_]", method)):
                    continue
                for base in cls.__mro__[1:]:
                    if method in vars(base) and not base.__module__.startswith("api"):
                        found.add((f"{base.__module__}.{base.__qualname__}", method))
                        break
    return found


def test_every_private_override_is_pinned():
    assert overridden_private_methods() == set(PINNED)


@pytest.mark.parametrize(("hook", "parameters"), PINNED.items(), ids=lambda v: str(v))
def test_pinned_hook_is_unchanged_upstream(hook, parameters):
    base, method = hook
    module, name = base.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert list(inspect.signature(getattr(cls, method)).parameters) == parameters


@pytest.mark.parametrize("distribution", PINNED_DISTRIBUTIONS)
def test_installed_version_is_within_the_pin(distribution):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = [d for d in project["dependencies"] if d.startswith(distribution + ">")]
    specifier = SpecifierSet(requirement[len(distribution) :].split(";")[0])
    assert any(spec.operator == "<" for spec in specifier), "pin an upper bound"
    assert Version(metadata.version(distribution)) in specifier


def test_pinned_hooks_still_shape_the_spec(app):
    """What the two hooks exist for: problem+json error responses, X-Pagination as JSON."""
    spec = app.test_client().get("/openapi.json").json
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    assert list(unauthorized["content"]) == ["application/problem+json"]
    assert "WWW-Authenticate" in unauthorized["headers"]
    listing = spec["paths"]["/users"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    assert "application/json" in listing["content"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_read_claims_through_current_claims(path):
    """get_jwt() is empty on our verification path: a view that calls it fails (500)."""
    assert "get_jwt(" not in path.read_text() or path.name == "verified.py"
