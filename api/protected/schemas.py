"""Response body of the protected example resource."""

import marshmallow as ma


class ProtectedSchema(ma.Schema):
    """The greeting of the protected example resource."""

    class Meta:
        ordered = True

    message = ma.fields.String(required=True, metadata={"example": "Hello, alice!"})
    username = ma.fields.String(required=True, metadata={"example": "alice"})
