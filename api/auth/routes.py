"""Auth operations: register, login, refresh, logout."""

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt
from flask_smorest import abort

from .. import audit, errors, links
from ..extensions import Blueprint, limiter
from ..tokens import service as tokens
from ..users import service as users
from ..users.schemas import UserSchema
from .schemas import LoginSchema, LogoutSchema, RegisterSchema, TokenPairSchema

blp = Blueprint(
    "auth", __name__, url_prefix="/auth", description="Register, log in, refresh and log out."
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NO_STORE_DOC = {
    "Cache-Control": {"description": "Always `no-store`.", "schema": {"type": "string"}}
}
RATE_LIMITED = errors.response_name(429)


def _username_key():
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"login-user:{str(username).lower()[:64]}"


def _limit(setting, **kwargs):
    return limiter.limit(lambda: current_app.config[setting], **kwargs)


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
    def post(self, credentials):
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
    decorators = [
        _limit("RATELIMIT_LOGIN"),
        _limit(
            "RATELIMIT_LOGIN_USERNAME",
            key_func=_username_key,
            deduct_when=lambda response: response.status_code == 401,
        ),
    ]

    @blp.doc(operationId="login")
    @links.links(blp, 200, links.LOGIN)
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema, headers=NO_STORE_DOC)
    @blp.alt_response(401, response=errors.response_name(401))
    @blp.alt_response(429, response=RATE_LIMITED)
    def post(self, credentials):
        """Log in and get a token pair"""
        user = users.authenticate(credentials["username"], credentials["password"])
        if user is None:
            audit.event("login.failure", username=credentials["username"])
            return errors.unauthorized("Invalid username or password.", token_given=False)
        audit.event("login.success", user_id=user.id)
        return tokens.issue_pair(user, fresh=True), 200, NO_STORE


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(operationId="refresh")
    @links.links(blp, 200, links.REFRESH_PAIR)
    @blp.auth_required(refresh=True)
    @blp.response(200, TokenPairSchema, headers=NO_STORE_DOC)
    def post(self):
        """Exchange a refresh token for a new pair (the old one is spent)"""
        claims = get_jwt()
        try:
            return tokens.rotate(claims, users.get), 200, NO_STORE
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
    def post(self, body):
        """Log out: revoke this access token and its session"""
        claims = get_jwt()
        try:
            tokens.logout(claims, (body or {}).get("refresh_token"))
        except tokens.TokenError as error:
            return errors.unauthorized(str(error))
        audit.event("logout", user_id=int(claims["sub"]))
