"""Request and response bodies of the second-factor operations."""

from typing import Any

import marshmallow as ma

from ..core.validators import Text

CODE_PATTERN = r"^[0-9]{6}$"
CODE_DOC = "The 6-digit code the authenticator app shows now."
RECOVERY_DOC = "One of the recovery codes (single use; case, spaces and '-' ignored)."


def code_field(*, required: bool) -> Text:
    return Text(
        required=required,
        validate=ma.validate.Regexp(CODE_PATTERN, error="A code is 6 digits."),
        metadata={"description": CODE_DOC, "example": "123456"},
    )


def recovery_code_field() -> Text:
    return Text(
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": RECOVERY_DOC, "example": "a2b3c-d4e5f"},
    )


class ExactlyOneFactor(ma.Schema):
    """Base: exactly one of ``code`` and ``recovery_code`` (a 422 otherwise)."""

    class Meta:
        unknown = ma.RAISE

    # "exactly one" in JSON Schema terms that code generators keep as a plain
    # model: no other members are allowed, so counting members is enough
    # (merged into the component by api.core.extensions.SchemaExtras)
    OPENAPI_EXTRA = {"minProperties": 1, "maxProperties": 1, "example": {"code": "123456"}}

    code = code_field(required=False)
    recovery_code = recovery_code_field()

    @ma.validates_schema
    def _exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("code" in data) == ("recovery_code" in data):
            raise ma.ValidationError("Give either code or recovery_code.", "code")


class PasswordSchema(ma.Schema):
    """The current password, to start an enrolment."""

    password = Text(
        allow_nul=True,  # only argon2 sees it
        required=True,
        validate=ma.validate.Length(min=1, max=1024),
        metadata={"description": "The password in use now.", "example": "correct horse battery"},
    )


class EnrolmentSchema(ma.Schema):
    """A new TOTP secret, pending until confirmed with a code."""

    class Meta:
        ordered = True

    secret = ma.fields.String(
        required=True,
        metadata={
            "description": "Base32 secret to type into an authenticator app (shown once).",
            "example": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        },
    )
    otpauth_uri = ma.fields.String(
        required=True,
        metadata={
            "description": "The same secret as an `otpauth://` URI, to show as a QR code.",
            "example": "otpauth://totp/JWT%20Auth%20API:alice?secret=JBSWY3DPEHPK3PXP"
            "JBSWY3DPEHPK3PXP&issuer=JWT%20Auth%20API",
        },
    )


class CodeSchema(ma.Schema):
    """A current TOTP code."""

    code = code_field(required=True)


class SecondFactorSchema(ExactlyOneFactor):
    """A current TOTP code or a recovery code."""


class RecoveryCodesSchema(ma.Schema):
    """Single-use recovery codes, shown this once (only their hashes are kept)."""

    recovery_codes = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "10 codes; each logs in once in place of a TOTP code.",
            "example": ["a2b3c-d4e5f", "g6h7j-k8m9n"],
        },
    )


class MfaLoginSchema(ExactlyOneFactor):
    """The ``mfa_token`` from ``POST /auth/login`` and a code or a recovery code."""

    OPENAPI_EXTRA = {
        "minProperties": 2,
        "maxProperties": 2,
        "example": {"mfa_token": "paste the mfa_token here", "code": "123456"},
    }

    mfa_token = Text(
        required=True,
        validate=ma.validate.Length(min=1, max=4096),
        metadata={"description": "From the `mfa_required` answer of `POST /auth/login`."},
    )


class MfaChallengeSchema(ma.Schema):
    """Password accepted; a second factor is needed (`POST /auth/mfa`)."""

    class Meta:
        ordered = True

    mfa_required = ma.fields.Constant(
        True, required=True, metadata={"type": "boolean", "enum": [True]}
    )
    mfa_token = ma.fields.String(
        required=True,
        metadata={"description": "Single use, for `POST /auth/mfa` only; not a bearer token."},
    )
    expires_in = ma.fields.Integer(
        required=True,
        metadata={"description": "Seconds until the mfa_token expires.", "example": 300},
    )
