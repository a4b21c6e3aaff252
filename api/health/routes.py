"""Liveness, readiness and the public key set (JWKS)."""

from typing import TypedDict

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView
from sqlalchemy import text

from ..core import errors
from ..core.extensions import Blueprint, db
from ..core.redisguard import NotReady
from ..tokens import signing
from ..tokens.keys import JwkSet

blp = Blueprint("meta", __name__, description="Health and public keys.")


class Status(TypedDict):
    """What HealthSchema dumps."""

    status: str


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


def backends_ready() -> str | None:
    """Check every backend the app depends on; why the first failing one is not ready, or None."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any driver error means not ready
        db.session.rollback()
        return "The database is unreachable."
    for name, check in current_app.extensions.get("health_checks", {}).items():
        try:
            check()
        except NotReady as error:  # answers, but must not be used as it is
            return str(error)
        except Exception:  # noqa: BLE001
            return f"The {name} is unreachable."
    return None


def _readiness() -> Response | Status:
    failed = backends_ready()
    if failed:
        return errors.problem(
            503,
            failed,
            headers={"Retry-After": errors.BACKEND_RETRY_AFTER},
        )
    return {"status": "ok"}


@blp.route("/livez")
class Live(MethodView):
    @blp.doc(operationId="getLivez")
    @blp.response(200, HealthSchema)
    def get(self) -> Status:
        """Liveness: the process answers (no backend is asked)"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(operationId="getReadyz")
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response=errors.response_name(503))
    def get(self) -> Response | Status:
        """Readiness: the database (and Redis, when configured) answer"""
        return _readiness()


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getHealth")
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response=errors.response_name(503))
    def get(self) -> Response | Status:
        """Readiness (the same as /readyz)"""
        return _readiness()


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.doc(operationId="getJwks")
    @blp.response(200, JwksSchema)
    def get(self) -> JwkSet:
        """The public keys that verify our tokens (JWKS)"""
        return signing.ring().jwks()
