"""A schemathesis auth provider that gets real tokens through the API itself.

Shared by the pytest run (tests/test_schemathesis.py, in-process WSGI) and the
CLI run against gunicorn (tests/st_hooks.py). It registers a throwaway user
(``POST /auth/register``) and logs in (``POST /auth/login``); when schemathesis
sees a 401 with our token it invalidates the cache and calls :meth:`get` again,
which refreshes the pair (``POST /auth/refresh``) or, if the session is gone
(a fuzzed logout, a deleted user), logs in or registers again.

Token per operation: ``refresh`` gets a refresh token, ``listUsers`` and
``deleteUser`` an admin's access token, ``introspectToken`` the HTTP Basic
credentials of a registered OAuth client, the rest a user's access token.
``refresh`` and ``logout`` spend their token, so each such case gets the
token of a session of its own instead of killing the shared one.
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid

import pyotp
from live import call

PASSWORD = "correct horse battery"
ADMIN_OPERATIONS = {"listUsers", "deleteUser", "listUserSessions", "deleteUserSessions"}
SPENDING_OPERATIONS = {"refresh", "logout"}
# Seconds a token is reused before the provider refreshes it: short, because a fuzzed
# DELETE /users/{id} or logout may end our session where no 401 triggers a re-login
# (the stateful phase does not replay 401s); other phases re-login on 401 at once.
REFRESH_INTERVAL = 5


def role(case, context):
    """The cache key: which kind of token an operation needs (``none``: public)."""
    raw = context.operation.definition.raw
    if not raw.get("security"):
        return "none"
    if any("oauthClient" in requirement for requirement in raw["security"]):
        return "client"
    operation_id = raw.get("operationId")
    if operation_id in ADMIN_OPERATIONS:
        return "admin"
    if operation_id in SPENDING_OPERATIONS:
        return "session"
    return "user"


class Wsgi:
    """POST through a Flask test client."""

    def __init__(self, app):
        self.client = app.test_client()

    def post(self, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.post(path, json=body, headers=headers)
        return response.status_code, response.get_json(silent=True)


class Http:
    """POST over HTTP (the CLI run against a live server)."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")

    def post(self, path, body=None, token=None):
        status, _, parsed = call(self.base_url, "POST", path, body, token, timeout=30)
        return status, parsed


class Account:
    """One user's credentials and current token pair, renewed on demand."""

    def __init__(self, transport, username, password, *, create):
        self.transport = transport
        self.username = username
        self.password = password
        self.create = create  # makes the account (again) when login fails
        self.pair = None

    def login(self):
        status, body = self.transport.post(
            "/auth/login", {"username": self.username, "password": self.password}
        )
        if status == 200 and body.get("mfa_required"):  # TOTP turned on: use a new account
            status = 401
            self.pair = self.pair or {}  # makes `register` pick a new username
        if status == 401:  # deleted by a fuzzed DELETE /users/{id}: make it again
            self.create(self)
            status, body = self.transport.post(
                "/auth/login", {"username": self.username, "password": self.password}
            )
        if status != 200:
            raise RuntimeError(f"login as {self.username} failed: {status} {body}")
        return body

    def renew(self):
        """A working pair: refresh the current one, or log in when it is dead."""
        if self.pair is not None:
            status, body = self.transport.post("/auth/refresh", token=self.pair["refresh_token"])
            if status == 200:
                self.pair = body
                return body
        self.pair = self.login()
        return self.pair


def register(account):
    """Create a throwaway user through the API (a new name if the old one is gone)."""
    if account.pair is not None or account.username is None:
        account.username = f"st_{uuid.uuid4().hex[:16]}"
    status, body = account.transport.post(
        "/auth/register", {"username": account.username, "password": account.password}
    )
    if status != 201:
        raise RuntimeError(f"register {account.username} failed: {status} {body}")


def flask_cli_admin(account):
    """Create the admin with the operator command (the API cannot make admins).

    Uses the environment of the server under test (INSTANCE_PATH or DATABASE_URL).
    """
    command = [sys.executable, "-m", "flask", "--app", "api", "users", "create"]
    subprocess.run(
        [*command, "--admin", "--password-stdin", account.username],
        input=account.password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def flask_cli_client():
    """Register an OAuth client with the operator command; its ``(id, secret)``."""
    command = [sys.executable, "-m", "flask", "--app", "api", "clients", "create", "st"]
    created = json.loads(subprocess.run(command, text=True, check=True, capture_output=True).stdout)
    return created["client_id"], created["client_secret"]


class Sessions:
    """The accounts the provider logs in with, made lazily on first use."""

    def __init__(
        self,
        transport,
        *,
        create_admin,
        admin_username,
        admin_password=PASSWORD,
        create_client=flask_cli_client,
    ):
        self.transport = transport
        self.user = Account(transport, None, PASSWORD, create=register)
        self.admin = Account(transport, admin_username, admin_password, create=create_admin)
        self.create_client = create_client
        self.client = None

    def client_authorization(self):
        """``Basic ...`` for the OAuth client (registered on first use)."""
        if self.client is None:
            self.client = self.create_client()
        raw = ":".join(self.client).encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token(self, kind):
        account = self.admin if kind == "admin" else self.user
        if account.username is None:
            account.create(account)
        return account.renew()

    def fresh_session(self):
        """A pair from a login of its own (for operations that spend it)."""
        if self.user.pair is None:
            self.token("user")
        return self.user.login()


def is_issued_jwt(header):
    """Whether ``header`` is ``Bearer`` + a JWT of this API (a ``kid`` in its JOSE header)."""
    if not isinstance(header, str) or not header.startswith("Bearer ey"):
        return False
    try:
        jose = header.split()[1].split(".")[0]
        return "kid" in json.loads(base64.urlsafe_b64decode(jose + "=" * (-len(jose) % 4)))
    except (ValueError, IndexError, TypeError):
        return False


class TokenAuth:
    """The schemathesis provider; subclass it with :func:`provider`."""

    sessions = None  # a Sessions, built on first use by make_sessions(context)
    make_sessions = None

    def get(self, case, context):
        cls = type(self)
        if cls.sessions is None:
            cls.sessions = cls.make_sessions(context)
        kind = role(case, context)
        if kind == "none":
            return None
        if kind == "session":
            return kind  # the token is fetched per case in `set`
        if kind == "client":
            return cls.sessions.client_authorization()
        return cls.sessions.token(kind)["access_token"]

    mine = set()  # the headers this provider has set (replaced on a re-login)

    def set(self, case, data, context):
        current = (case.headers or {}).get("Authorization")
        if is_issued_jwt(current) and current not in TokenAuth.mine:
            return  # a real token from an OpenAPI link (stateful phase): test that one
        if data == "session":
            pair = type(self).sessions.fresh_session()
            operation_id = context.operation.definition.raw.get("operationId")
            data = pair["refresh_token" if operation_id == "refresh" else "access_token"]
        case.headers = case.headers or {}
        case.headers["Authorization"] = data if data.startswith("Basic ") else f"Bearer {data}"
        TokenAuth.mine.add(case.headers["Authorization"])


def provider(make_sessions):
    """A :class:`TokenAuth` with its own sessions, made by ``make_sessions(context)``."""
    return type("TokenAuth", (TokenAuth,), {"make_sessions": staticmethod(make_sessions)})


def register_on(target):
    """Register a provider on a schema (or on ``schemathesis`` itself, for the CLI)."""
    return target.auth(refresh_interval=REFRESH_INTERVAL, cache_by_key=role, retry_on=[401])


def http_sessions(context):
    """Sessions against the server the CLI is testing."""
    base_url = context.operation.schema.get_base_url()
    admin = os.environ.get("ST_ADMIN_USERNAME", "st_admin")
    return Sessions(
        Http(base_url),
        create_admin=flask_cli_admin,
        admin_username=admin,
        admin_password=os.environ.get("ST_ADMIN_PASSWORD", PASSWORD),
    )


def username_of(header):
    """The ``preferred_username`` claim of a ``Bearer <jwt>`` header (not verified)."""
    try:
        payload = header.split()[1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("preferred_username")
    except (AttributeError, ValueError, IndexError, TypeError):
        return None


class SecondFactors:
    """Valid second factors for the MFA operations of the stateful phase.

    Links carry tokens (login → enrollTotp → confirmTotp, login → verifyMfa) but a
    link cannot compute a TOTP code. This watches the answers (the secret from
    ``enrollTotp``, the recovery codes from ``confirmTotp``, each ``mfa_token`` from
    ``login``) and, before a call, puts into the body a code for a step not used yet
    (one step of skew either way is allowed) or else an unused recovery code, and
    into ``enrollTotp`` the password of the login its token came from.
    Requests it knows nothing about go out as generated.
    """

    def __init__(self, clock=time.time):
        self.clock = clock
        self.secrets = {}  # username -> TOTP secret (pending or on)
        self.recovery = {}  # username -> recovery codes not used yet
        self.last_step = {}  # username -> last step this filler used
        self.challenges = {}  # mfa_token -> username
        self.passwords = {}  # username -> the password of its last successful login

    def proof(self, username):
        """``{"code": ...}`` or ``{"recovery_code": ...}`` for ``username``, or None."""
        secret = self.secrets.get(username)
        if secret is None:
            return None
        now = int(self.clock() // 30)
        step = max(now - 1, self.last_step.get(username, now - 2) + 1)
        if step <= now + 1:
            self.last_step[username] = step
            return {"code": pyotp.TOTP(secret).generate_otp(step)}
        codes = self.recovery.get(username)
        return {"recovery_code": codes.pop()} if codes else None

    def before_call(self, operation_id, case):
        body = case.body if isinstance(case.body, dict) else None
        if body is None:
            return
        if operation_id == "enrollTotp":
            # the link passes the login's password, but only on some draws: always do
            password = self.passwords.get(username_of((case.headers or {}).get("Authorization")))
            if password is not None and "password" in body:
                body["password"] = password
            return
        if operation_id == "verifyMfa":
            username = self.challenges.get(body.get("mfa_token"))
            proof = self.proof(username) if username else None
        elif operation_id in ("confirmTotp", "regenerateRecoveryCodes", "disableTotp"):
            username = username_of((case.headers or {}).get("Authorization"))
            proof = self.proof(username) if username else None
            if proof and "code" not in proof and operation_id != "disableTotp":
                proof = None  # these take a TOTP code only
        else:
            return
        if proof:
            for name in ("code", "recovery_code"):
                body.pop(name, None)
            body.update(proof)

    def after_call(self, operation_id, case, status, body):
        if not isinstance(body, dict):
            return
        if operation_id == "enrollTotp" and status == 201:
            username = username_of((case.headers or {}).get("Authorization"))
            self.secrets[username] = body["secret"]
            self.last_step.pop(username, None)
        elif operation_id in ("confirmTotp", "regenerateRecoveryCodes") and status == 200:
            username = username_of((case.headers or {}).get("Authorization"))
            self.recovery[username] = list(body["recovery_codes"])
        elif operation_id == "login" and status == 200:
            request = case.body if isinstance(case.body, dict) else {}
            if body.get("mfa_required"):
                self.challenges[body["mfa_token"]] = request.get("username")
            else:
                username = username_of(f"Bearer {body.get('access_token')}")
                self.passwords[username] = request.get("password")
