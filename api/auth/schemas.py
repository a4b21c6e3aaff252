"""Request and response bodies of the auth operations."""

import marshmallow as ma

from ..validators import ConfiguredLength

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PASSWORD_FIELD_DOC = "12 to 1024 characters by default (OWASP ASVS 2.1.1); any characters."  # noqa: S105


def password_field(description):
    return ma.fields.String(
        required=True,
        validate=ConfiguredLength("PASSWORD"),
        metadata={"description": description, "example": "correct horse battery"},
    )


class RegisterSchema(ma.Schema):
    """A new account's credentials."""

    username = ma.fields.String(
        required=True,
        validate=[ConfiguredLength("USERNAME"), ma.validate.Regexp(USERNAME_PATTERN)],
        metadata={
            "description": "3 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'.",
            "example": "alice",
        },
    )
    password = password_field(PASSWORD_FIELD_DOC)


class LoginSchema(ma.Schema):
    """Credentials to exchange for a token pair."""

    username = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"example": "alice"},
    )
    password = ma.fields.String(
        required=True,
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


class LogoutSchema(ma.Schema):
    """Optionally, the session's refresh token, to revoke it explicitly too."""

    refresh_token = ma.fields.String(
        validate=ma.validate.Length(max=4096),
        metadata={"description": "A refresh token of the same user to revoke as well."},
    )
