"""The example protected resource: proof that a token works."""

from flask.views import MethodView
from flask_jwt_extended import get_jwt

from ..extensions import Blueprint
from .schemas import ProtectedSchema

blp = Blueprint(
    "protected", __name__, description="An example resource that needs an access token."
)


@blp.route("/protected")
class Protected(MethodView):
    @blp.doc(operationId="getProtected")
    @blp.auth_required()
    @blp.response(200, ProtectedSchema)
    def get(self):
        """Greet the holder of a valid access token"""
        username = get_jwt()["preferred_username"]
        return {"message": f"Hello, {username}!", "username": username}
