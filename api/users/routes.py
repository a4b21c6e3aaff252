"""User operations: the current user, password change, administration."""

from typing import Any

from flask import Response
from flask.views import MethodView

from ..core import audit, errors
from ..core.extensions import abort
from ..tokens.security import Blueprint, current_claims
from ..tokens.verified import Rejected
from . import service as users
from .models import MAX_ID, User
from .schemas import PasswordChangeSchema, UserSchema

blp = Blueprint(
    "users", __name__, url_prefix="/users", description="The current user and user administration."
)


def current_user_or_401() -> User:
    user = users.get(int(current_claims()["sub"]))
    if user is None:  # deleted while the token was in flight, or behind the API's back
        raise Rejected("Token has been revoked.")  # 401, error="invalid_token"
    return user


@blp.route("/me")
class Me(MethodView):
    @blp.doc(operationId="getMe")
    @blp.auth_required()
    @blp.response(200, UserSchema)
    def get(self) -> User:
        """Get the current user"""
        return current_user_or_401()


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.doc(operationId="changePassword")
    @blp.auth_required(fresh=True)
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @blp.alt_response(429, response=errors.response_name(429))
    def put(self, body: dict[str, Any]) -> Response | None:
        """Change the password (fresh token); ends every other session"""
        user = current_user_or_401()
        try:
            users.change_password(
                user,
                body["current_password"],
                body["new_password"],
                keep_family=current_claims()["fam"],
            )
        except users.WrongPassword:
            audit.event("password.change_failed", user_id=user.id)
            return errors.unauthorized("The current password is wrong.", token_given=False)
        audit.event("password.changed", user_id=user.id)
        return None


@blp.route("")
class UserList(MethodView):
    @blp.doc(operationId="listUsers")
    @blp.auth_required(roles=["admin"])
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[User]:
        """List users (admin)"""
        items, total = users.page(pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return items


# Out-of-range ids are unknown paths (404) instead of reaching SQL as an overflow.
@blp.route(f"/<int(min=1, max={MAX_ID}):user_id>")
class UserItem(MethodView):
    @blp.doc(operationId="deleteUser")
    @blp.auth_required(roles=["admin"])
    @blp.response(204)
    @blp.alt_response(404, response=errors.response_name(404))
    def delete(self, user_id: int) -> None:
        """Delete a user (admin); their tokens stop working at once"""
        user = users.get(user_id)
        if user is None:
            abort(404, message="No such user.")
        users.delete(user)
        audit.event("user.deleted", user_id=user_id, actor=int(current_claims()["sub"]))
