"""Readiness and the public key set (JWKS)."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import text

from .. import errors
from ..extensions import Blueprint, db
from ..tokens import signing

blp = Blueprint("meta", __name__, description="Health and public keys.")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class JwkSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    kid = ma.fields.String(required=True, metadata={"description": "RFC 7638 thumbprint."})
    kty = ma.fields.String(required=True, metadata={"example": "OKP"})
    alg = ma.fields.String(required=True, metadata={"example": "EdDSA"})
    use = ma.fields.String(required=True, metadata={"example": "sig"})
    crv = ma.fields.String(metadata={"example": "Ed25519"})
    x = ma.fields.String()
    y = ma.fields.String()


class JwksSchema(ma.Schema):
    keys = ma.fields.List(ma.fields.Nested(JwkSchema), required=True)


def backends_ready():
    """Ping every backend the app depends on; the first failure's name, or None."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any driver error means not ready
        db.session.rollback()
        return "database"
    for name, ping in current_app.extensions.get("health_checks", {}).items():
        try:
            ping()
        except Exception:  # noqa: BLE001
            return name
    return None


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getHealth")
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response=errors.response_name(503))
    def get(self):
        """Readiness: the database (and Redis, when configured) answer"""
        failed = backends_ready()
        if failed:
            return errors.problem(
                503,
                f"The {failed} is unreachable.",
                headers={"Retry-After": errors.BACKEND_RETRY_AFTER},
            )
        return {"status": "ok"}


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.doc(operationId="getJwks")
    @blp.response(200, JwksSchema)
    def get(self):
        """The public keys that verify our tokens (JWKS)"""
        return signing.ring().jwks()
