"""Auth operations: register, login, refresh, logout."""

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask.views import MethodView

from ..core import audit, errors
from ..core.extensions import abort, limiter
from ..mfa import service as mfa
from ..mfa.routes import refusal as mfa_refusal
from ..tokens import service as tokens
from ..tokens.security import Blueprint, current_claims
from ..users import service as users
from ..users.models import User
from ..users.schemas import UserSchema
from . import links, service
from .schemas import (
    LOGIN_ANSWER,
    LoginSchema,
    LoginTokensSchema,
    LogoutSchema,
    MfaLoginSchema,
    RegisterSchema,
    TokenPairSchema,
)

blp = Blueprint(
    "auth", __name__, url_prefix="/auth", description="Register, log in, refresh and log out."
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NO_STORE_DOC = {
    "Cache-Control": {"description": "Always `no-store`.", "schema": {"type": "string"}}
}
RATE_LIMITED = errors.response_name(429)


def client_info() -> tokens.Client:
    """The caller as a session shows it: user agent and address (after trusted proxies)."""
    return tokens.Client(request.user_agent.string or None, request.remote_addr)


def _limit(setting: str, **kwargs: Any) -> Callable[..., Any]:
    return limiter.limit_view(lambda: current_app.config[setting], **kwargs)


@blp.route("/register")
class Register(MethodView):
    decorators = [_limit("RATELIMIT_REGISTER")]

    @blp.doc(operationId="register")
    @links.links(blp, 201, links.REGISTER)
    @blp.arguments(RegisterSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(403, response=errors.response_name(403))
    @blp.alt_response(409, response=errors.response_name(409))
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, credentials: dict[str, Any]) -> User:
        """Create an account"""
        if not current_app.config["REGISTRATION_OPEN"]:
            abort(403, message="Registration is closed.")
        try:
            user = users.create(credentials["username"], credentials["password"])
        except users.UsernameTaken:
            abort(409, message="This username is already taken.")
        audit.event("user.registered", user_id=user.id)
        return user


@blp.route("/login")
class Login(MethodView):
    # per client address here; per username in service.password_login (counted
    # before the password is checked, so concurrent guesses cannot overshoot)
    decorators = [_limit("RATELIMIT_LOGIN")]

    @blp.doc(operationId="login")
    @links.links(blp, 200, links.LOGIN)
    @blp.arguments(LoginSchema)
    @blp.response(200, LOGIN_ANSWER, headers=NO_STORE_DOC)
    @blp.alt_response(401, response=errors.response_name(401))
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, credentials: dict[str, Any]) -> ResponseReturnValue:
        """Log in: a token pair, or an mfa_token when the account has TOTP on"""
        try:
            user = service.password_login(credentials["username"], credentials["password"])
        except service.SecondFactorRequired as required:
            return jsonify(mfa.start_login(required.user)), 200, NO_STORE
        except service.LoginFailed:
            return errors.unauthorized(service.LOGIN_FAILED, token_given=False)
        try:
            pair = tokens.issue_pair(user, fresh=True, client=client_info())
        except tokens.LoginRefused:
            return errors.unauthorized(service.LOGIN_FAILED, token_given=False)
        return jsonify(LoginTokensSchema().dump({**pair, "mfa_required": False})), 200, NO_STORE


@blp.route("/mfa")
class SecondFactor(MethodView):
    decorators = [_limit("RATELIMIT_LOGIN")]

    @blp.doc(operationId="verifyMfa")
    @links.links(blp, 200, links.VERIFY_MFA)
    @blp.arguments(MfaLoginSchema)
    @blp.response(200, TokenPairSchema, headers=NO_STORE_DOC)
    @blp.alt_response(401, response=errors.response_name(401))
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> ResponseReturnValue:
        """Second login step: the mfa_token and a code (or recovery code) for a token pair"""
        try:
            user, epoch = mfa.finish_login(
                body["mfa_token"], code=body.get("code"), recovery_code=body.get("recovery_code")
            )
            pair = tokens.issue_pair(user, fresh=True, epoch=epoch, client=client_info())
        except (mfa.ChallengeRefused, tokens.LoginRefused):
            return errors.unauthorized(
                "The mfa_token is invalid, expired or used up: log in again.", token_given=False
            )
        except mfa.MfaError as error:
            return mfa_refusal(error)
        audit.event("login.success", user_id=user.id, second_factor=True)
        return pair, 200, NO_STORE


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(operationId="refresh")
    @links.links(blp, 200, links.REFRESH_PAIR)
    @blp.auth_required(refresh=True)
    @blp.response(200, TokenPairSchema, headers=NO_STORE_DOC)
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self) -> ResponseReturnValue:
        """Exchange a refresh token for a new pair (the old one is spent)"""
        claims = current_claims()
        service.count_refresh(claims)  # RateLimited (429) before anything is spent
        try:
            return tokens.rotate(claims, users.get, client_info()), 200, NO_STORE
        except tokens.TokenReused as error:
            audit.event("refresh.reuse_detected", user_id=int(claims["sub"]), family=claims["fam"])
            return errors.unauthorized(str(error))
        except tokens.TokenError as error:
            return errors.unauthorized(str(error))


@blp.route("/logout")
class Logout(MethodView):
    @blp.doc(operationId="logout")
    @links.links(blp, 204, links.LOGOUT)
    @blp.auth_required()
    @blp.arguments(LogoutSchema, required=False, example={})
    @blp.response(204)
    def post(self, body: dict[str, Any] | None) -> Response | None:
        """Log out: revoke this access token and its session"""
        claims = current_claims()
        try:
            tokens.logout(claims, (body or {}).get("refresh_token"))
        except tokens.TokenError as error:
            return errors.unauthorized(str(error))
        audit.event("logout", user_id=int(claims["sub"]))
        return None
