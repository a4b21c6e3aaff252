"""Registered OAuth clients: the services allowed to introspect tokens (RFC 7662).

A client authenticates with HTTP Basic (``client_id:client_secret``, RFC 6749
§2.3.1). The secret is 256 random bits, shown once at creation and stored as
HMAC-SHA256 keyed with the client id. A slow password hash (argon2) protects
low-entropy secrets that people choose; a 256-bit random secret cannot be
guessed from its hash at any speed, while argon2 would cost tens of
milliseconds of CPU and 19 MiB on every introspection call, which resource
servers make per request. Keying with the client id (not the app's
``SECRET_KEY``) keeps the records valid across a secret-key rotation.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from ..core.database import rowcount
from ..core.dbtypes import UTCDateTime
from ..core.extensions import BaseModel, db

NAME_MAX = 64
ID_LENGTH = 32  # hex characters (128 bits): never starts with '-', safe on a command line
SECRET_BYTES = 32


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OAuthClient(BaseModel):
    """A registered client: id, name, the keyed hash of its secret."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=_utcnow)


def hash_secret(client_id: str, secret: str) -> str:
    """The stored form of ``secret``: HMAC-SHA256 keyed with the client id, hex."""
    key = b"oauth-client:" + client_id.encode("utf-8", "surrogatepass")
    return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def create(name: str) -> tuple[OAuthClient, str]:
    """Register a client; return it and its secret (the only time the secret exists)."""
    client_id = secrets.token_hex(ID_LENGTH // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    client = OAuthClient(client_id=client_id, name=name, secret_hash=hash_secret(client_id, secret))
    db.session.add(client)
    db.session.commit()
    return client, secret


def all_clients() -> Sequence[OAuthClient]:
    return db.session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)).all()


def remove(client_id: str) -> bool:
    """Delete a client; whether it existed."""
    result = db.session.execute(delete(OAuthClient).where(OAuthClient.client_id == client_id))
    db.session.commit()
    return bool(rowcount(result))


_UNKNOWN = hash_secret("unknown", "unknown")


def authenticate(client_id: str, secret: str) -> OAuthClient | None:
    """The client if ``secret`` is its secret, else None (one comparison either way)."""
    client = None
    if len(client_id) <= 64 and "\x00" not in client_id:
        client = db.session.get(OAuthClient, client_id)
    expected = client.secret_hash if client is not None else _UNKNOWN
    matched = hmac.compare_digest(expected, hash_secret(client_id, secret))
    return client if matched and client is not None else None
