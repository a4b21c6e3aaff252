"""OAuth 2 endpoints: token (RFC 6749), revocation (RFC 7009), introspection
(RFC 7662) and the discovery documents (RFC 8414, RFC 9728).

Requests are ``application/x-www-form-urlencoded``; errors are RFC 6749 §5.2
JSON (``error``, ``error_description``) built by :func:`api.core.errors.oauth_error`.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import marshmallow as ma
from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_limiter.util import get_remote_address

from ..auth import links
from ..core import audit, errors
from ..core.extensions import Blueprint, limiter
from ..tokens import service as tokens
from ..users.names import canonical
from . import clients, service
from .schemas import (
    AuthorizationServerSchema,
    IntrospectionSchema,
    ProtectedResourceSchema,
    TokenParameterSchema,
    TokenRequestSchema,
    TokenResponseSchema,
)

blp = Blueprint(
    "oauth",
    __name__,
    description="OAuth 2: token, revocation and introspection endpoints, and discovery.",
)
errors.OAUTH_BLUEPRINTS.add(blp.name)
errors.OAUTH_PATH_PREFIXES.add("/oauth/")

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
NO_STORE_DOC = {
    "Cache-Control": {"description": "Always `no-store`.", "schema": {"type": "string"}}
}
BASIC_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'
GRANTS = ("password", "refresh_token")
TOKEN_LINKS = {
    **links.uses_pair(),
    "RefreshGrant": {
        "operationId": "requestToken",
        "requestBody": {
            "grant_type": "refresh_token",
            "refresh_token": "$response.body#/refresh_token",
        },
        "description": "Exchange the refresh token for a new pair (the old one is spent).",
    },
    "IntrospectToken": {
        "operationId": "introspectToken",
        "requestBody": {"token": "$response.body#/access_token"},
        "description": "Ask whether the access token is active (a registered client).",
    },
    "RevokeToken": {
        "operationId": "revokeToken",
        "requestBody": {"token": "$response.body#/refresh_token"},
        "description": "End the session of this refresh token.",
    },
}
PROTECTED_RESOURCE_PATH = errors.RESOURCE_METADATA_PATH


def _form_body(schema: type[ma.Schema], description: str) -> Callable[..., Any]:
    return blp.doc(
        requestBody={
            "required": True,
            "description": description,
            "content": {FORM: {"schema": schema}},
        }
    )


def _oauth_errors(*statuses: int) -> Callable[..., Any]:
    """Document RFC 6749 JSON error responses (plus 413, 429 and 503, which every endpoint has)."""
    descriptions = {
        400: "RFC 6749 §5.2 error (`invalid_request`, `invalid_grant`, `unsupported_grant_type`).",
        401: "`invalid_client`: missing or wrong client credentials (HTTP Basic).",
        413: "`invalid_request`: the body is too large.",
        429: "`invalid_request`: too many requests; retry after `Retry-After` seconds.",
        503: "`temporarily_unavailable`: a backend is unreachable; retry shortly.",
    }
    headers = {
        401: {
            "WWW-Authenticate": {"description": "`Basic` challenge.", "schema": {"type": "string"}}
        },
        429: {"Retry-After": errors.RETRY_AFTER_DOC},
        503: {"Retry-After": errors.RETRY_AFTER_DOC},
    }

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        for status in (*statuses, 413, 429, 503):
            func = blp.alt_response(
                status,
                schema=errors.OAuthErrorSchema,
                content_type="application/json",
                description=descriptions[status],
                headers=headers.get(status),
            )(func)
        return func

    return decorator


def _form(schema: type[ma.Schema]) -> dict[str, Any]:
    """The known form parameters, checked (RFC 6749 §3.2: none repeated, others ignored)."""
    if request.mimetype != FORM:
        raise service.OAuthError("invalid_request", f"The request body must be {FORM}.")
    form = request.form
    known = schema().fields
    for name in known:
        if len(form.getlist(name)) > 1:
            raise service.OAuthError("invalid_request", f"Parameter {name!r} is repeated.")
    try:
        loaded: dict[str, Any] = schema().load({k: v for k, v in form.items() if k in known})
    except ma.ValidationError as error:
        flat = errors.flatten(error.messages)
        name, messages = next(iter(flat.items()))
        raise service.OAuthError("invalid_request", f"{name}: {messages[0]}") from None
    return loaded


def _refused(error: service.OAuthError) -> Response:
    headers = {"WWW-Authenticate": BASIC_CHALLENGE} if error.status == 401 else None
    return errors.oauth_error(error.error, str(error), status=error.status, headers=headers)


def _basic_credentials() -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from HTTP Basic (RFC 6749 §2.3.1 form-encodes both)."""
    authorization = request.authorization
    if authorization is None or authorization.type != "basic":
        return None
    client_id, secret = (
        authorization.parameters.get("username"),
        authorization.parameters.get("password"),
    )
    if not client_id or secret is None:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _client_key() -> str:
    """Rate-limit key of introspection: the client id it claims and the caller's address.

    The id alone would let anyone who knows it (ids are not secret) spend a resource
    server's budget from elsewhere; with the address, a caller spends only its own.
    """
    credentials = _basic_credentials()
    address = get_remote_address()
    if credentials is None:
        return "oauth-ip:" + address
    return f"oauth-client:{credentials[0][:64]}@{address}"


def _client() -> tokens.Client:
    """The caller as its session shows it: user agent and address (after trusted proxies)."""
    return tokens.Client(request.user_agent.string or None, request.remote_addr)


def _grant_type() -> str | None:
    return request.form.get("grant_type") if request.mimetype == FORM else None


def _username_key() -> str:
    """The per-username key of ``POST /auth/login``: the canonical form accounts are found by."""
    return f"login-user:{canonical(str(request.form.get('username')))[:64]}"


def _limit(setting: str, **kwargs: Any) -> Callable[..., Any]:
    return limiter.limit_view(lambda: current_app.config[setting], **kwargs)


def _error_of(response: Response) -> str | None:
    body = response.get_json(silent=True) if response.status_code == 400 else None
    return body.get("error") if isinstance(body, dict) else None


def _not_password_grant() -> bool:
    return _grant_type() != "password"


@blp.route("/oauth/token")
class Token(MethodView):
    # the same limits as POST /auth/login, for the password grant
    decorators = [
        _limit("RATELIMIT_LOGIN", exempt_when=_not_password_grant),
        _limit(
            "RATELIMIT_LOGIN_USERNAME",
            key_func=_username_key,
            exempt_when=_not_password_grant,
            deduct_when=lambda response: _error_of(response) == "invalid_grant",
        ),
    ]

    @blp.doc(operationId="requestToken", security=[])
    @links.links(blp, 200, TOKEN_LINKS)
    @_form_body(
        TokenRequestSchema,
        "`grant_type=password` with `username` and `password` (first-party tools; can be "
        "turned off), or `grant_type=refresh_token` with `refresh_token`.",
    )
    @blp.response(200, TokenResponseSchema, headers=NO_STORE_DOC)
    @_oauth_errors(400)
    def post(self) -> Any:
        """OAuth 2 token endpoint: password or refresh_token grant"""
        try:
            grant_type = _grant_type()
            if grant_type is not None and grant_type not in GRANTS:
                raise service.OAuthError(
                    "unsupported_grant_type", f"grant_type {grant_type[:64]!r} is not supported."
                )
            if grant_type == "password" and not current_app.config["OAUTH_PASSWORD_GRANT"]:
                raise service.OAuthError(
                    "unsupported_grant_type", "The password grant is turned off."
                )
            form = _form(TokenRequestSchema)
            if form["grant_type"] == "password":
                if "username" not in form or "password" not in form:
                    raise service.OAuthError(
                        "invalid_request", "The password grant needs username and password."
                    )
                pair = service.password_grant(form["username"], form["password"], _client())
            else:
                if "refresh_token" not in form:
                    raise service.OAuthError("invalid_request", "refresh_token is missing.")
                pair = service.refresh_grant(form["refresh_token"], _client())
        except service.OAuthError as error:
            return _refused(error)
        return pair, 200, NO_STORE


@blp.route("/oauth/revoke")
class Revoke(MethodView):
    decorators = [_limit("RATELIMIT_REVOKE")]

    @blp.doc(operationId="revokeToken", security=[])
    @_form_body(
        TokenParameterSchema,
        "The token to revoke. An access token is revoked; a refresh token ends its session.",
    )
    @blp.response(200, headers=NO_STORE_DOC, description="Revoked, or nothing to revoke.")
    @_oauth_errors(400)
    def post(self) -> Any:
        """Revoke a token (RFC 7009); 200 also for unknown or invalid tokens"""
        try:
            form = _form(TokenParameterSchema)
        except service.OAuthError as error:
            return _refused(error)
        service.revoke(form["token"])
        return Response(status=200, headers=NO_STORE)


@blp.route("/oauth/introspect")
class Introspect(MethodView):
    decorators = [_limit("RATELIMIT_INTROSPECT", key_func=_client_key)]

    @blp.doc(operationId="introspectToken", security=[{"oauthClient": []}])
    @_form_body(TokenParameterSchema, "The token to inspect.")
    @blp.response(200, IntrospectionSchema, headers=NO_STORE_DOC)
    @_oauth_errors(400, 401)
    def post(self) -> Any:
        """Introspect a token (RFC 7662; registered clients, HTTP Basic)"""
        try:
            credentials = _basic_credentials()
            client = clients.authenticate(*credentials) if credentials else None
            if client is None:
                if credentials is not None:
                    audit.event("oauth.client_auth_failed", client_id=credentials[0][:64])
                raise service.OAuthError(
                    "invalid_client", "Client authentication failed.", status=401
                )
            form = _form(TokenParameterSchema)
        except service.OAuthError as error:
            return _refused(error)
        return service.introspect(form["token"]), 200, NO_STORE


def _issuer() -> str:
    """The issuer identifier: the configured ``iss`` when it is a URL, else this server's URL."""
    configured = str(current_app.config["JWT_ENCODE_ISSUER"] or "")
    if urlsplit(configured).scheme in ("https", "http") and urlsplit(configured).netloc:
        return configured.rstrip("/")
    return request.url_root.rstrip("/")


def _url(endpoint: str) -> str:
    return url_for(endpoint, _external=True)


@blp.route("/.well-known/oauth-authorization-server")
class AuthorizationServer(MethodView):
    @blp.doc(operationId="getAuthorizationServerMetadata", security=[])
    @blp.response(200, AuthorizationServerSchema)
    def get(self) -> dict[str, Any]:
        """OAuth 2 authorization server metadata (RFC 8414)"""
        grants = list(GRANTS if current_app.config["OAUTH_PASSWORD_GRANT"] else GRANTS[1:])
        return {
            "issuer": _issuer(),
            "token_endpoint": _url("oauth.Token"),
            "revocation_endpoint": _url("oauth.Revoke"),
            "introspection_endpoint": _url("oauth.Introspect"),
            "jwks_uri": _url("meta.Jwks"),
            "grant_types_supported": grants,
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "service_documentation": _docs_url(),
        }


@blp.route(PROTECTED_RESOURCE_PATH)
class ProtectedResource(MethodView):
    @blp.doc(operationId="getProtectedResourceMetadata", security=[])
    @blp.response(200, ProtectedResourceSchema)
    def get(self) -> dict[str, Any]:
        """OAuth 2 protected resource metadata (RFC 9728)"""
        return {
            "resource": request.url_root.rstrip("/"),
            "authorization_servers": [_issuer()],
            "jwks_uri": _url("meta.Jwks"),
            "bearer_methods_supported": ["header"],
            "resource_documentation": _docs_url(),
        }


def _docs_url() -> str:
    return request.url_root.rstrip("/") + str(current_app.config["OPENAPI_SWAGGER_UI_PATH"])
