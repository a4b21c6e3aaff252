"""Contract tests: schemathesis fuzzes every operation of the app's own spec.

All of schemathesis' checks run (the default; ``schemathesis.toml`` keeps them
on and sets positive + negative generation), with real tokens from the
:mod:`st_auth` provider. Runs are derandomized, so CI is reproducible; a failure
prints the curl command that reproduces it.
"""

import contextlib
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import backends
import pytest
import schemathesis
import st_auth
from hypothesis import HealthCheck, settings

from api import config as app_config
from api import create_app
from api.extensions import db
from api.users import service as users

MAX_EXAMPLES = 100  # per operation and phase; `tox -e schemathesis-long` goes much further
SCENARIOS = 60
STEPS = 10

# The schema is loaded at import (parametrize needs it), so this module makes its own
# app and backends: a temporary instance folder, and on PostgreSQL / Redis its own schema
# and key prefix, all removed at the end (see _cleanup).
INSTANCE = Path(tempfile.mkdtemp(prefix="st-pytest-"))
BACKENDS = contextlib.ExitStack()
overrides = {
    "INSTANCE_PATH": str(INSTANCE / "instance"),
    "SECRET_KEY": "s" * 48,
    "RATELIMIT_ENABLED": False,
}
if backends.on_postgres():
    url = BACKENDS.enter_context(backends.postgres_schema(tag="st"))
    overrides["SQLALCHEMY_DATABASE_URI"] = app_config._sqlalchemy_url(url)
if backends.REDIS_URL:
    overrides["REDIS_KEY_PREFIX"] = backends.redis_prefix("st")
    BACKENDS.callback(backends.delete_prefixed, overrides["REDIS_KEY_PREFIX"])
app = create_app(overrides)
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)


def create_admin(account):
    """The API cannot make admins: use the service, as `flask users create --admin` does."""
    with app.app_context():
        users.create(account.username, account.password, is_admin=True)


def wsgi_sessions(context):
    return st_auth.Sessions(st_auth.Wsgi(app), create_admin=create_admin, admin_username="st_admin")


TokenAuth = st_auth.provider(wsgi_sessions)
st_auth.register_on(schema)(TokenAuth)


def reset_accounts():
    """Delete every user and forget the provider's sessions (a clean start)."""
    with app.app_context():
        for user in users.page(1, 10**6)[0]:
            users.delete(user)
    TokenAuth.sessions = None
    for cache in schema.auth.providers:  # the caching wrappers around TokenAuth
        cache.invalidate()


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    BACKENDS.close()
    shutil.rmtree(INSTANCE, ignore_errors=True)


@schema.parametrize()
@FUZZ
def test_every_operation(case):
    """Examples, coverage and fuzzing phases: every check on every response."""
    case.call_and_validate()


class Sessions:
    """What the contract says about tokens after logout and refresh, as a model."""

    def __init__(self):
        self.family = {}  # "Bearer <jwt>" -> session id
        self.spent = set()  # tokens used up (logged out, refreshed)
        self.revoked = set()  # session ids ended
        self.next_id = 0

    def is_dead(self, header):
        return header in self.spent or self.family.get(header) in self.revoked

    def issued(self, pair, family=None):
        if family is None:
            family, self.next_id = self.next_id, self.next_id + 1
        for name in ("access_token", "refresh_token"):
            self.family[f"Bearer {pair[name]}"] = family

    def record(self, operation_id, header, status, body, dead):
        family = self.family.get(header)
        if operation_id == "login" and status == 200:
            self.issued(body)
        elif operation_id == "refresh" and status == 200:
            self.spent.add(header)
            self.issued(body, family)
        elif operation_id == "refresh" and dead and family is not None:
            self.revoked.add(family)  # reuse of a spent refresh token ends its session
        elif operation_id == "logout" and status == 204:
            self.spent.add(header)
            if family is not None:
                self.revoked.add(family)


SEEN = Counter()


class Workflows(schema.as_state_machine()):
    """Stateful phase: follows the spec's links (register → login → protected, me,
    change password, refresh, logout; refresh → refresh, ...) and checks that a
    logged-out access token and a spent refresh token are refused with 401."""

    def setup(self):
        # Same data must meet the same state: a username registered by an earlier
        # scenario would turn 201 into 409 and make Hypothesis' replays flaky.
        reset_accounts()
        self.sessions = Sessions()

    def before_call(self, case):
        self.dead = self.sessions.is_dead((case.headers or {}).get("Authorization"))

    def after_call(self, response, case):
        super().after_call(response, case)
        operation_id = case.operation.definition.raw.get("operationId")
        header = (case.headers or {}).get("Authorization")
        SEEN[operation_id, response.status_code, self.dead] += 1
        if self.dead:
            assert response.status_code == 401, (
                f"{case.method} {case.path} accepted a revoked token: {response.status_code}"
            )
        body = response.json() if response.status_code in (200, 201) else None
        self.sessions.record(operation_id, header, response.status_code, body, self.dead)


def test_stateful_workflows():
    Workflows.run(
        settings=settings(FUZZ, max_examples=SCENARIOS, stateful_step_count=STEPS, derandomize=True)
    )
    # the links were really followed: sessions were made, used and ended
    for operation_id, status in [
        ("register", 201),
        ("login", 200),
        ("getProtected", 200),
        ("refresh", 200),
        ("logout", 204),
    ]:
        assert SEEN[operation_id, status, False], (operation_id, status, sorted(SEEN.items()))
    assert any(dead for (_, status, dead) in SEEN if status == 401), dict(SEEN)
