"""Request and response bodies of the auth operations."""

import marshmallow as ma

from ..core.validators import Text
from ..mfa.schemas import MfaChallengeSchema, MfaLoginSchema
from ..users.schemas import RegisterSchema

__all__ = [
    "LOGIN_ANSWER",
    "LoginSchema",
    "LoginTokensSchema",
    "LogoutSchema",
    "MfaChallengeSchema",
    "MfaLoginSchema",
    "RegisterSchema",
    "TokenPairSchema",
]


class LoginSchema(ma.Schema):
    """Credentials to exchange for a token pair."""

    username = Text(
        required=True,
        allow_nul=True,  # never looked up (users.authenticate): 401 like any unknown user
        validate=ma.validate.Length(min=1, max=64),
        metadata={"example": "alice"},
    )
    password = Text(
        required=True,
        allow_nul=True,
        validate=ma.validate.Length(min=1, max=1024),
        metadata={"example": "correct horse battery"},
    )


class TokenPairSchema(ma.Schema):
    """An access token and the refresh token that renews it."""

    class Meta:
        ordered = True

    access_token = ma.fields.String(
        required=True,
        metadata={"description": "JWT for `Authorization: Bearer`; lives 15 minutes by default."},
    )
    refresh_token = ma.fields.String(
        required=True,
        metadata={"description": "JWT for `POST /auth/refresh`; single use, 30 days by default."},
    )
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(
        required=True,
        metadata={"description": "Seconds until the access token expires.", "example": 900},
    )


class LoginTokensSchema(TokenPairSchema):
    """A token pair from a login that needed no second factor."""

    mfa_required = ma.fields.Constant(
        False, required=True, metadata={"type": "boolean", "enum": [False]}
    )


# POST /auth/login answers one of two bodies; `mfa_required` tells which.
LOGIN_ANSWER = {
    "oneOf": [LoginTokensSchema, MfaChallengeSchema],
    "discriminator": {
        "propertyName": "mfa_required",
        "mapping": {
            "false": "#/components/schemas/LoginTokens",
            "true": "#/components/schemas/MfaChallenge",
        },
    },
}


class LogoutSchema(ma.Schema):
    """Optionally, the session's refresh token, to revoke it explicitly too."""

    refresh_token = Text(
        validate=ma.validate.Length(max=4096),
        metadata={
            "description": "A refresh token of the same user to revoke as well.",
            "pattern": "^[^\\u0000]*$",  # Text refuses NUL (422): say so in the spec
        },
    )
