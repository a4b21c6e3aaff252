"""Use the generated Python SDK: log in, refresh the access token on 401, log out.

Generate the SDK from the committed spec first (the settings are in
``openapi/client-config.yaml``)::

    pip install openapi-python-client
    openapi-python-client generate --path openapi/openapi.json \\
        --config openapi/client-config.yaml --meta none --output-path jwt_auth_api_client

Then, with the server running and a registered user (the password is read from
``API_PASSWORD`` or prompted for; for an account with two-factor authentication
on, the code from ``API_TOTP_CODE`` or prompted for)::

    python examples/client.py http://127.0.0.1:5000 alice
"""

import getpass
import os
import sys
from http import HTTPStatus

from jwt_auth_api_client import AuthenticatedClient, Client
from jwt_auth_api_client.api.auth import login, logout, refresh, verify_mfa
from jwt_auth_api_client.api.protected import get_protected
from jwt_auth_api_client.api.users import get_me
from jwt_auth_api_client.models import (
    Login,
    LoginTokens,
    MfaChallenge,
    MfaLogin,
    Problem,
    TokenPair,
)

# An undocumented status raises jwt_auth_api_client.errors.UnexpectedStatus.
STRICT = {"raise_on_unexpected_status": True}


class ApiError(Exception):
    """The API answered with an RFC 9457 problem."""

    def __init__(self, problem):
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")
        self.problem = problem


class Session:
    """A logged-in session; a call that gets 401 refreshes the tokens once and is retried.

    Use it as a context manager: it logs in on entry and out on exit.
    """

    def __init__(self, base_url, username, password, ask_code=None):
        self.base_url = base_url
        self._credentials = Login(username=username, password=password)
        self._ask_code = ask_code or (lambda: input("two-factor code: "))
        self._tokens = None
        self._client = None
        self.refreshes = 0

    def __enter__(self):
        with Client(base_url=self.base_url, **STRICT) as anonymous:
            answer = login.sync(client=anonymous, body=self._credentials)
            if isinstance(answer, MfaChallenge):  # TOTP is on: the second step
                body = MfaLogin(mfa_token=answer.mfa_token, code=self._ask_code())
                answer = verify_mfa.sync(client=anonymous, body=body)
            self._use(answer)
        return self

    def __exit__(self, *exc_info):
        if self._client is not None:
            response = logout.sync_detailed(client=self._client)
            self._close()
            if response.status_code != HTTPStatus.NO_CONTENT:
                raise ApiError(response.parsed)

    def call(self, operation, **kwargs):
        """Run a generated operation (e.g. ``get_me``) with this session's access token."""
        response = operation.sync_detailed(client=self._client, **kwargs)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            self.refresh()
            response = operation.sync_detailed(client=self._client, **kwargs)
        if isinstance(response.parsed, Problem):
            raise ApiError(response.parsed)
        return response.parsed

    def refresh(self):
        """Swap the refresh token (single use) for a new pair."""
        token = self._tokens.refresh_token
        with AuthenticatedClient(base_url=self.base_url, token=token, **STRICT) as api:
            self._use(refresh.sync(client=api))
        self.refreshes += 1

    def _use(self, result):
        if not isinstance(result, (TokenPair, LoginTokens)):
            self._close()
            raise ApiError(result)
        self._close()
        self._tokens = result
        self._client = AuthenticatedClient(
            base_url=self.base_url, token=result.access_token, **STRICT
        )

    def _close(self):
        if self._client is not None:
            self._client.get_httpx_client().close()
            self._client = None


def main(base_url, username):
    password = os.environ.get("API_PASSWORD") or getpass.getpass(f"password for {username}: ")
    code = os.environ.get("API_TOTP_CODE")
    with Session(
        base_url, username, password, ask_code=(lambda: code) if code else None
    ) as session:
        me = session.call(get_me)
        print(f"logged in as {me.username} (id {me.id}, roles: {', '.join(me.roles)})")
        print(session.call(get_protected).message)
    print("logged out")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:3])
    except ApiError as error:
        sys.exit(f"error: {error}")
