"""The example protected resource: proof that a token works."""

from typing import TypedDict

from flask.views import MethodView

from ..tokens.security import Blueprint, current_claims
from .schemas import ProtectedSchema


class Greeting(TypedDict):
    """What ProtectedSchema dumps."""

    message: str
    username: str


blp = Blueprint(
    "protected", __name__, description="An example resource that needs an access token."
)


@blp.route("/protected")
class Protected(MethodView):
    @blp.doc(operationId="getProtected")
    @blp.auth_required()
    @blp.response(200, ProtectedSchema)
    def get(self) -> Greeting:
        """Greet the holder of a valid access token"""
        username = current_claims()["preferred_username"]
        return {"message": f"Hello, {username}!", "username": username}
