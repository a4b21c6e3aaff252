"""Extensions, created once here and initialised in :func:`api.create_app`."""

import flask_smorest
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from . import errors, security

PROBLEM_JSON = errors.PROBLEM_JSON


class Api(flask_smorest.Api):
    """flask-smorest ``Api`` speaking RFC 9457 problem+json for every error.

    No catch-all ``default`` response: each operation documents the statuses
    it really returns, so an undocumented status is a contract violation.
    """

    ERROR_SCHEMA = errors.ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error):
        return errors.from_http_exception(error)

    def _register_responses(self):
        """Register the shared error responses with the problem+json media type."""
        for name, status in errors.documented_statuses():
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            if status == 401:
                response["headers"] = {"WWW-Authenticate": errors.WWW_AUTHENTICATE_DOC}
            if status in (429, 503):
                response["headers"] = {"Retry-After": errors.RETRY_AFTER_DOC}
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(name, response, lazy=True)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the security decorator; request bodies document 400/413/503.

    Every operation with a JSON body writes to a backend (database, Redis), so
    it may answer 503 while one is unreachable; ``auth_required`` documents the
    same for every protected operation.
    """

    def auth_required(self, *, refresh=False, fresh=False, roles=()):
        """Require a bearer JWT on an operation and document it (see api.security)."""
        return security.auth_required(self, refresh=refresh, fresh=fresh, roles=roles)

    def arguments(self, schema, *, location="json", **kwargs):
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def wrapper(func):
            func = decorator(func)
            for status in (400, 413, 503):
                func = self.alt_response(status, response=errors.response_name(status))(func)
            return func

        return wrapper

    def _document_pagination_metadata(self, spec, resp_doc):
        """``X-Pagination`` carries JSON, so document it with ``content``, not a
        ``simple``-style object ``schema`` (which means ``k,v,k,v`` on the wire)."""
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata (a JSON object).",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }


class Model(DeclarativeBase):
    """Declarative base for the SQLAlchemy models."""


api = Api()
db = SQLAlchemy(model_class=Model)
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
