"""Response bodies of the session operations."""

import marshmallow as ma


class SessionSchema(ma.Schema):
    """One session: a login and every token refreshed from it."""

    class Meta:
        ordered = True

    id = ma.fields.String(
        required=True,
        metadata={"description": "Session id (the `fam` claim of its tokens).", "format": "uuid"},
    )
    created_at = ma.fields.DateTime(required=True, metadata={"description": "The login."})
    last_used_at = ma.fields.DateTime(
        required=True, metadata={"description": "The last login or refresh."}
    )
    expires_at = ma.fields.DateTime(
        required=True, metadata={"description": "When its refresh token expires."}
    )
    user_agent = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The client's User-Agent at the last login or refresh (truncated)."
        },
    )
    ip = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The client address (after trusted proxies)."},
    )
    current = ma.fields.Boolean(
        required=True, metadata={"description": "Whether the calling token belongs to it."}
    )
