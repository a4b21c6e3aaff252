"""OpenAPI links between the auth operations (how a client chains them).

flask-smorest has no ``links=`` argument; :func:`links` returns a ``@blp.doc``
that merges them into an already documented response. The status key must be
the same ``int`` as in ``@blp.response`` (a ``"200"`` string would replace the
whole response). Schemathesis' stateful phase follows these links.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from ..core.extensions import Blueprint

F = TypeVar("F", bound=Callable[..., Any])

ACCESS = "Bearer {$response.body#/access_token}"
REFRESH = "Bearer {$response.body#/refresh_token}"
SAME_TOKEN = "{$request.header.Authorization}"  # noqa: S105 - a link expression


def _call(operation_id: str, authorization: str, description: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "parameters": {"header.Authorization": authorization},
        "description": description,
    }


def _uses_pair() -> dict[str, Any]:
    """Links from a response carrying a token pair to the operations that use it."""
    return {
        "GetProtected": _call("getProtected", ACCESS, "Use the access token."),
        "GetMe": _call("getMe", ACCESS, "Read the user the access token belongs to."),
        "Logout": _call("logout", ACCESS, "End this session."),
        "Refresh": _call("refresh", REFRESH, "Exchange the refresh token for a new pair."),
        "ListMySessions": _call("listMySessions", ACCESS, "See the sessions of this user."),
    }


REGISTER = {
    "Login": {
        "operationId": "login",
        "requestBody": {
            "username": "$response.body#/username",
            "password": "$request.body#/password",
        },
        "description": "Log in with the credentials just registered.",
    },
    "RequestToken": {
        "operationId": "requestToken",
        "requestBody": {
            "grant_type": "password",
            "username": "$response.body#/username",
            "password": "$request.body#/password",
        },
        "description": "OAuth 2 password grant with the credentials just registered.",
    },
}
LOGIN = {
    **_uses_pair(),
    "EnrollTotp": {
        **_call("enrollTotp", ACCESS, "Turn on TOTP: the login's token is fresh."),
        "requestBody": {"password": "$request.body#/password"},
    },
    "VerifyMfa": {
        "operationId": "verifyMfa",
        "requestBody": {"mfa_token": "$response.body#/mfa_token"},
        "description": "When `mfa_required` is true: send the mfa_token with a code.",
    },
    "ChangePassword": {
        **_call("changePassword", ACCESS, "The login's token is fresh; its password is current."),
        "requestBody": {"current_password": "$request.body#/password"},
    },
}
VERIFY_MFA = _uses_pair()
REFRESH_PAIR = {
    **_uses_pair(),
    "ReuseRefreshToken": _call(
        "refresh", SAME_TOKEN, "The refresh token just used is spent: reusing it gives 401."
    ),
}
LOGOUT = {
    "ReuseAccessToken": _call(
        "getProtected", SAME_TOKEN, "The access token just logged out is revoked: it gives 401."
    ),
}


def uses_pair() -> dict[str, Any]:
    """The links from any response carrying a token pair (also ``POST /oauth/token``)."""
    return _uses_pair()


def links(blp: Blueprint, status: int, definitions: dict[str, Any]) -> Callable[[F], F]:
    """``@blp.doc`` adding ``definitions`` as the links of response ``status``."""
    return blp.doc(responses={status: {"links": definitions}})
