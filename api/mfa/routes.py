"""Second-factor enrolment of the current user (TOTP and recovery codes)."""

# flask-smorest's decorators (and the Blueprint wrappers around them) are untyped
# mypy: disable-error-code="untyped-decorator,no-untyped-call"

from typing import Any

from flask import Response
from flask.views import MethodView

from ..core import errors
from ..tokens.security import Blueprint, current_claims
from ..users.models import User
from ..users.routes import current_user_or_401
from . import service
from .schemas import (
    CodeSchema,
    EnrolmentSchema,
    PasswordSchema,
    RecoveryCodesSchema,
    SecondFactorSchema,
)

blp = Blueprint(
    "mfa",
    __name__,
    url_prefix="/users/me/mfa",
    description="Two-factor authentication (TOTP, RFC 6238) and recovery codes.",
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NO_STORE_DOC = {
    "Cache-Control": {"description": "Always `no-store`.", "schema": {"type": "string"}}
}
CONFLICT = errors.response_name(409)
# OpenAPI link: the same token confirms (flask-smorest has no links= argument)
CONFIRM_LINK = {
    "ConfirmTotp": {
        "operationId": "confirmTotp",
        "parameters": {"header.Authorization": "{$request.header.Authorization}"},
        "description": "Confirm with the code an authenticator app shows for the secret.",
    }
}
RATE_LIMITED = errors.response_name(429)


def refusal(error: service.MfaError) -> Response:
    """The HTTP answer to a refused second-factor operation."""
    answer: Response
    if isinstance(error, service.TooManyAttempts):
        retry = {"Retry-After": str(error.retry_after)}
        answer = errors.problem(429, str(error), headers=retry)
    elif isinstance(error, service.Conflict):
        answer = errors.problem(409, str(error))
    else:
        answer = errors.unauthorized(str(error), token_given=False)
    return answer


def _me() -> User:
    user: User = current_user_or_401()
    return user


@blp.route("/totp")
class Totp(MethodView):
    @blp.doc(operationId="enrollTotp", responses={201: {"links": CONFIRM_LINK}})
    @blp.auth_required(fresh=True)
    @blp.arguments(PasswordSchema)
    @blp.response(201, EnrolmentSchema, headers=NO_STORE_DOC)
    @blp.alt_response(409, response=CONFLICT)
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> Any:
        """Start TOTP enrolment (fresh token, current password); pending until confirmed"""
        try:
            return service.begin_enrolment(_me(), body["password"]), 201, NO_STORE
        except service.MfaError as error:
            return refusal(error)

    @blp.doc(operationId="disableTotp")
    @blp.auth_required(fresh=True)
    @blp.arguments(SecondFactorSchema)
    @blp.response(204)
    @blp.alt_response(409, response=CONFLICT)
    @blp.alt_response(429, response=RATE_LIMITED)
    def delete(self, body: dict[str, Any]) -> Any:
        """Turn TOTP off (fresh token, code or recovery code); ends every other session"""
        try:
            service.disable(
                _me(),
                code=body.get("code"),
                recovery_code=body.get("recovery_code"),
                keep_family=current_claims().get("fam"),
            )
        except service.MfaError as error:
            return refusal(error)
        return None


@blp.route("/totp/confirm")
class TotpConfirm(MethodView):
    @blp.doc(operationId="confirmTotp")
    @blp.auth_required(fresh=True)
    @blp.arguments(CodeSchema)
    @blp.response(200, RecoveryCodesSchema, headers=NO_STORE_DOC)
    @blp.alt_response(409, response=CONFLICT)
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> Any:
        """Confirm enrolment with a code: TOTP is on; answers the recovery codes (shown once)"""
        try:
            codes = service.confirm_enrolment(_me(), body["code"])
        except service.MfaError as error:
            return refusal(error)
        return {"recovery_codes": codes}, 200, NO_STORE


@blp.route("/recovery-codes")
class RecoveryCodes(MethodView):
    @blp.doc(operationId="regenerateRecoveryCodes")
    @blp.auth_required(fresh=True)
    @blp.arguments(CodeSchema)
    @blp.response(200, RecoveryCodesSchema, headers=NO_STORE_DOC)
    @blp.alt_response(409, response=CONFLICT)
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> Any:
        """Replace the recovery codes (fresh token, current code); the old ones stop working"""
        try:
            codes = service.regenerate_recovery_codes(_me(), body["code"])
        except service.MfaError as error:
            return refusal(error)
        return {"recovery_codes": codes}, 200, NO_STORE
