"""Contract tests: schemathesis fuzzes every operation of the app's own spec.

All of schemathesis' checks run (the default; ``schemathesis.toml`` keeps them
on and sets positive + negative generation), with real tokens from the
:mod:`st_auth` provider. Runs are derandomized, so CI is reproducible; a failure
prints the curl command that reproduces it.
"""

import base64
import contextlib
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import backends
import pytest
import schemathesis
import st_auth
import st_crafted
from hypothesis import HealthCheck, settings

from api import create_app
from api.core import config as app_config
from api.core.extensions import db
from api.oauth import clients as oauth_clients
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
    # the auth provider logs the same accounts in for every spending case: without this,
    # the per-user session cap would end the provider's own sessions mid-run
    "MAX_SESSIONS_PER_USER": 1_000_000,
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


def create_client():
    """`flask clients create`, through the service."""
    with app.app_context():
        client, secret = oauth_clients.create("st")
        return client.client_id, secret


def wsgi_sessions(context):
    return st_auth.Sessions(
        st_auth.Wsgi(app),
        create_admin=create_admin,
        admin_username="st_admin",
        create_client=create_client,
    )


TokenAuth = st_auth.provider(wsgi_sessions)
st_auth.register_on(schema)(TokenAuth)
schema.hook(st_crafted.map_case)  # deep nesting, lone surrogates, ... (tests/st_crafted.py)


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


JSON_BODY_OPERATIONS = [
    operation
    for operation in (result.ok() for result in schema.get_all_operations())
    if "application/json" in operation.definition.raw.get("requestBody", {}).get("content", {})
]


@pytest.mark.parametrize("operation", JSON_BODY_OPERATIONS, ids=lambda o: o.label)
def test_crafted_bodies_are_refused(operation):
    """Every crafted body of tests/st_crafted.py, on every JSON-body operation, with a
    working token: a 400 or 422 problem, never a 5xx (what the fuzzing hook relies on)."""
    reset_accounts()
    credentials = {"username": "crafted", "password": "correct horse battery staple"}
    client = app.test_client()
    assert client.post("/auth/register", json=credentials).status_code == 201
    pair = client.post("/auth/login", json=credentials).get_json()
    token = pair["access_token"]
    answers = Counter()
    for payload in st_crafted._payloads(st_crafted._fields(operation)):
        response = client.open(
            operation.path,
            method=operation.method.upper(),
            data=payload,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        answers[response.status_code] += 1
        assert response.status_code in {400, 422}, (payload[:80], response.get_data()[:300])
        assert response.mimetype == "application/problem+json"
    assert sum(answers.values()) >= 8


class Sessions:
    """What the contract says about tokens after logout and refresh, as a model."""

    def __init__(self):
        self.family = {}  # "Bearer <jwt>" -> session id
        self.spent = set()  # tokens used up (logged out, refreshed)
        self.revoked = set()  # session ids ended
        self.refresh = set()  # which tokens are refresh tokens
        self.by_session_id = {}  # the API's session id (fam claim) -> session id here
        self.next_id = 0

    def is_dead(self, header):
        return header in self.spent or self.family.get(header) in self.revoked

    def issued(self, pair, family=None):
        if "access_token" not in pair:  # login of a user with TOTP on: an mfa_token
            return
        if family is None:
            family, self.next_id = self.next_id, self.next_id + 1
        for name in ("access_token", "refresh_token"):
            self.family[f"Bearer {pair[name]}"] = family
        self.refresh.add(f"Bearer {pair['refresh_token']}")
        self.by_session_id[session_id(pair["access_token"])] = family

    def record(self, operation_id, header, status, body, dead, case_path=None):
        case_path = case_path or {}
        family = self.family.get(header)
        if operation_id == "requestToken" and status == 200:
            if header is not None:  # the refresh grant spent this one
                self.spent.add(header)
            self.issued(body, family)
        elif operation_id == "requestToken" and dead and family is not None:
            self.revoked.add(family)  # reuse through the token endpoint: same rule
        elif operation_id == "revokeToken" and status == 200 and header in self.family:
            if header in self.refresh:
                self.revoked.add(family)  # a refresh token ends its session
            else:
                self.spent.add(header)  # an access token alone
        elif operation_id == "deleteMySession" and status == 204:
            ended = self.by_session_id.get(str(case_path.get("session_id")))
            if ended is not None:
                self.revoked.add(ended)
        elif operation_id in ("login", "verifyMfa") and status == 200:
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
# where a dead token (revoked, spent) goes, and the status it must get there
REFUSES_DEAD = {"requestToken": 400}  # invalid_grant (RFC 6749 §5.2)
REFUSES_DEAD.update(
    (operation.definition.raw["operationId"], 401)
    for operation in (result.ok() for result in schema.get_all_operations())
    if any(
        "bearerAuth" in requirement
        for requirement in operation.definition.raw.get("security") or ()
    )
)


def session_id(token):
    """The ``fam`` claim of a JWT (read, not verified: the model's own bookkeeping)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["fam"]


def token_of(case):
    """``Bearer <token>`` the case presents: its header, or the token in an OAuth form body."""
    operation_id = case.operation.definition.raw.get("operationId")
    body = case.body if isinstance(case.body, dict) else {}
    if operation_id == "requestToken":
        value = body.get("refresh_token") if body.get("grant_type") == "refresh_token" else None
        return f"Bearer {value}" if isinstance(value, str) else None
    if operation_id in ("revokeToken", "introspectToken"):
        value = body.get("token")
        return f"Bearer {value}" if isinstance(value, str) else None
    return (case.headers or {}).get("Authorization")


class Workflows(schema.as_state_machine()):
    """Stateful phase: follows the spec's links (register → login → protected, me,
    change password, refresh, logout; refresh → refresh, ...) and checks that a
    logged-out access token and a spent refresh token are refused with 401."""

    def setup(self):
        # Same data must meet the same state: a username registered by an earlier
        # scenario would turn 201 into 409 and make Hypothesis' replays flaky.
        reset_accounts()
        self.sessions = Sessions()
        self.factors = st_auth.SecondFactors()  # TOTP codes for the MFA links

    def before_call(self, case):
        self.dead = self.sessions.is_dead(token_of(case))
        self.factors.before_call(case.operation.definition.raw.get("operationId"), case)

    def after_call(self, response, case):
        super().after_call(response, case)
        operation_id = case.operation.definition.raw.get("operationId")
        header = token_of(case)
        SEEN[operation_id, response.status_code, self.dead] += 1
        if self.dead and operation_id in REFUSES_DEAD:
            assert response.status_code == REFUSES_DEAD[operation_id], (
                f"{case.method} {case.path} accepted a revoked token: {response.status_code}"
            )
        if operation_id == "introspectToken" and self.dead and response.status_code == 200:
            assert response.json() == {"active": False}, "a revoked token is active"
        body = response.json() if response.status_code in (200, 201) else None
        self.factors.after_call(operation_id, case, response.status_code, body)
        self.sessions.record(
            operation_id, header, response.status_code, body, self.dead, case.path_parameters
        )


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
        ("listMySessions", 200),
    ]:
        assert SEEN[operation_id, status, False], (operation_id, status, sorted(SEEN.items()))
    assert any(dead for (_, status, dead) in SEEN if status == 401), dict(SEEN)
    # the MFA links were followed: login -> enrollTotp and login -> verifyMfa; how far
    # chains go (enrolment 201, confirmTotp, a login answering an mfa_token, verifyMfa
    # 200) is up to the random walk, so it is printed, not asserted
    for operation_id in ("enrollTotp", "verifyMfa"):
        assert any(seen[0] == operation_id for seen in SEEN), sorted(SEEN.items())
    print("MFA calls:", {key: n for key, n in sorted(SEEN.items()) if "Totp" in key[0]
                         or key[0] in ("verifyMfa", "regenerateRecoveryCodes")})  # fmt: skip
    # the token endpoint and session deletion are in the stateful phase too (which
    # deletion, one session by its listed id or all the others, is up to the random
    # walk: timing-dependent answers such as rate limits change the path it takes)
    called = {operation for operation, _, _ in SEEN}
    assert "requestToken" in called, sorted(called)
    assert called & {"deleteMySession", "deleteMyOtherSessions"}, sorted(called)
