"""Request and response bodies of the OAuth 2 endpoints (form-encoded requests)."""

import marshmallow as ma

TOKEN_MAX = 8192  # longer than any token we issue; longer values are never valid


class TokenRequestSchema(ma.Schema):
    """RFC 6749 §4.3.2 (password) and §6 (refresh_token) token requests."""

    class Meta:
        ordered = True
        unknown = ma.EXCLUDE  # RFC 6749 §3.2: unrecognized parameters are ignored

    grant_type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["password", "refresh_token"]),
        metadata={"description": "`password` or `refresh_token`.", "example": "password"},
    )
    username = ma.fields.String(
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "With `grant_type=password`.", "example": "alice"},
    )
    password = ma.fields.String(
        validate=ma.validate.Length(min=1, max=1024),
        metadata={"description": "With `grant_type=password`.", "example": "correct horse battery"},
    )
    refresh_token = ma.fields.String(
        validate=ma.validate.Length(min=1, max=TOKEN_MAX),
        metadata={"description": "With `grant_type=refresh_token`."},
    )
    scope = ma.fields.String(
        validate=ma.validate.Length(max=1024),
        metadata={"description": "Ignored: a token carries the user's roles."},
    )


class TokenResponseSchema(ma.Schema):
    """RFC 6749 §5.1 successful token response."""

    class Meta:
        ordered = True

    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(
        required=True,
        metadata={"description": "Seconds until the access token expires.", "example": 900},
    )
    refresh_token = ma.fields.String(required=True)


class TokenParameterSchema(ma.Schema):
    """A token to revoke (RFC 7009 §2.1) or introspect (RFC 7662 §2.1)."""

    class Meta:
        ordered = True
        unknown = ma.EXCLUDE  # unrecognized parameters are ignored, as on the token endpoint

    token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=TOKEN_MAX))
    token_type_hint = ma.fields.String(
        validate=ma.validate.Length(max=64),
        metadata={"description": "`access_token` or `refresh_token`; optional, only a hint."},
    )


class IntrospectionSchema(ma.Schema):
    """RFC 7662 §2.2: ``active`` alone when the token is not valid right now."""

    class Meta:
        ordered = True

    active = ma.fields.Boolean(required=True)
    sub = ma.fields.String(metadata={"description": "The user id."})
    username = ma.fields.String()
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    exp = ma.fields.Integer()
    iat = ma.fields.Integer()
    nbf = ma.fields.Integer()
    jti = ma.fields.String()
    iss = ma.fields.String()
    aud = ma.fields.Raw(metadata={"description": "A string or a list of strings."})
    scope = ma.fields.String(metadata={"description": "The user's roles, space-separated."})
    roles = ma.fields.List(ma.fields.String())


class AuthorizationServerSchema(ma.Schema):
    """RFC 8414 authorization server metadata."""

    class Meta:
        ordered = True
        unknown = ma.INCLUDE

    issuer = ma.fields.String(required=True)
    token_endpoint = ma.fields.String(required=True)
    revocation_endpoint = ma.fields.String(required=True)
    introspection_endpoint = ma.fields.String(required=True)
    jwks_uri = ma.fields.String(required=True)
    grant_types_supported = ma.fields.List(ma.fields.String(), required=True)
    response_types_supported = ma.fields.List(ma.fields.String(), required=True)
    token_endpoint_auth_methods_supported = ma.fields.List(ma.fields.String(), required=True)
    revocation_endpoint_auth_methods_supported = ma.fields.List(ma.fields.String(), required=True)
    introspection_endpoint_auth_methods_supported = ma.fields.List(
        ma.fields.String(), required=True
    )
    service_documentation = ma.fields.String(required=True)


class ProtectedResourceSchema(ma.Schema):
    """RFC 9728 protected resource metadata."""

    class Meta:
        ordered = True
        unknown = ma.INCLUDE

    resource = ma.fields.String(required=True)
    authorization_servers = ma.fields.List(ma.fields.String(), required=True)
    jwks_uri = ma.fields.String(required=True)
    bearer_methods_supported = ma.fields.List(ma.fields.String(), required=True)
    resource_documentation = ma.fields.String(required=True)
