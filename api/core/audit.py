"""Audit log: security events as structured JSON records on the ``api.audit`` logger.

Each record names the event, the user id, the client address and the request
id. Tokens and passwords are never passed here, so they can never be logged.
What a user typed as a username is not logged either (it is often a password
typed into the wrong field): :func:`keyed_hash` gives a value that is equal for
equal usernames, so attempts can be correlated, but that cannot be reversed or
checked against a guess without the app's ``SECRET_KEY``.
"""

import hashlib
import hmac
import json
import logging
from typing import Any

from flask import current_app, has_request_context, request

from . import metrics
from .headers import request_id

logger = logging.getLogger("api.audit")
logger.setLevel(logging.INFO)


def event(name: str, *, user_id: int | None = None, **fields: Any) -> None:
    """Log one security event."""
    record = {"event": name, "user_id": user_id, **fields}
    if has_request_context():
        record["client"] = request.remote_addr
        record["request_id"] = request_id()
    logger.info(json.dumps(record, sort_keys=True), extra={"audit": record})
    metrics.count_event(name)


AUDIT_HASH_CONTEXT = b"api.audit.keyed-hash.v1"


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of ``value`` (hex, 128 bits) under a key derived from ``SECRET_KEY``."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    key = hmac.new(secret, AUDIT_HASH_CONTEXT, hashlib.sha256).digest()
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:32]
