"""OpenAPI links between the auth operations (how a client chains them).

flask-smorest has no ``links=`` argument; :func:`links` returns a ``@blp.doc``
that merges them into an already documented response. The status key must be
the same ``int`` as in ``@blp.response`` (a ``"200"`` string would replace the
whole response). Schemathesis' stateful phase follows these links.
"""

from flask_smorest import Blueprint

ACCESS = "Bearer {$response.body#/access_token}"
REFRESH = "Bearer {$response.body#/refresh_token}"
SAME_TOKEN = "{$request.header.Authorization}"  # noqa: S105 - a link expression


def _call(operation_id, authorization, description):
    return {
        "operationId": operation_id,
        "parameters": {"header.Authorization": authorization},
        "description": description,
    }


def _uses_pair():
    """Links from a response carrying a token pair to the operations that use it."""
    return {
        "GetProtected": _call("getProtected", ACCESS, "Use the access token."),
        "GetMe": _call("getMe", ACCESS, "Read the user the access token belongs to."),
        "Logout": _call("logout", ACCESS, "End this session."),
        "Refresh": _call("refresh", REFRESH, "Exchange the refresh token for a new pair."),
    }


REGISTER = {
    "Login": {
        "operationId": "login",
        "requestBody": {
            "username": "$response.body#/username",
            "password": "$request.body#/password",
        },
        "description": "Log in with the credentials just registered.",
    }
}
LOGIN = {
    **_uses_pair(),
    "ChangePassword": {
        **_call("changePassword", ACCESS, "The login's token is fresh; its password is current."),
        "requestBody": {"current_password": "$request.body#/password"},
    },
}
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


def links(blp: Blueprint, status: int, definitions: dict):
    """``@blp.doc`` adding ``definitions`` as the links of response ``status``."""
    return blp.doc(responses={status: {"links": definitions}})
