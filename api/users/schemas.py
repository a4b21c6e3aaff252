"""Request and response bodies of the users operations."""

import marshmallow as ma

from ..core.validators import ConfiguredLength, Text
from .names import WholeUsername

PASSWORD_FIELD_DOC = "12 to 1024 characters by default (OWASP ASVS 2.1.1); any characters."  # noqa: S105


def password_field(description: str) -> Text:
    return Text(
        required=True,
        allow_nul=True,
        validate=ConfiguredLength("PASSWORD"),
        metadata={"description": description, "example": "correct horse battery"},
    )


class RegisterSchema(ma.Schema):
    """A new account's credentials."""

    username = Text(
        required=True,
        validate=[ConfiguredLength("USERNAME"), WholeUsername()],
        metadata={
            "description": (
                "3 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'. Case-insensitive: "
                "'Alice' and 'alice' are the same account."
            ),
            "example": "alice",
        },
    )
    password = password_field(PASSWORD_FIELD_DOC)


class UserSchema(ma.Schema):
    """A user account as the API shows it (every field is always present)."""

    class Meta:
        ordered = True

    id = ma.fields.Integer(dump_only=True, required=True, metadata={"example": 1})
    username = ma.fields.String(dump_only=True, required=True, metadata={"example": "alice"})
    roles = ma.fields.List(
        ma.fields.String(), dump_only=True, required=True, metadata={"example": ["user"]}
    )
    created_at = ma.fields.DateTime(
        dump_only=True, required=True, metadata={"example": "2026-11-24T16:00:00+00:00"}
    )
    mfa_enabled = ma.fields.Boolean(
        dump_only=True,
        required=True,
        metadata={"description": "Whether login asks for a TOTP code.", "example": False},
    )


class PasswordChangeSchema(ma.Schema):
    """Current and new password."""

    current_password = Text(
        required=True,
        allow_nul=True,
        validate=ma.validate.Length(min=1, max=1024),
        metadata={"description": "The password in use now.", "example": "correct horse battery"},
    )
    new_password = password_field(PASSWORD_FIELD_DOC)
