"""Request and response bodies of the users operations."""

import marshmallow as ma

from ..auth.schemas import PASSWORD_FIELD_DOC, password_field


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


class PasswordChangeSchema(ma.Schema):
    """Current and new password."""

    current_password = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=1024),
        metadata={"description": "The password in use now.", "example": "correct horse battery"},
    )
    new_password = password_field(PASSWORD_FIELD_DOC)
