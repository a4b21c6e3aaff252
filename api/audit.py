"""Audit log: security events as structured JSON records on the ``api.audit`` logger.

Each record names the event, the user id, the client address and the request
id. Tokens and passwords are never passed here, so they can never be logged.
"""

import json
import logging

from flask import g, has_request_context, request

logger = logging.getLogger("api.audit")
logger.setLevel(logging.INFO)


def event(name, *, user_id=None, **fields):
    """Log one security event."""
    record = {"event": name, "user_id": user_id, **fields}
    if has_request_context():
        record["client"] = request.remote_addr
        record["request_id"] = g.get("request_id")
    logger.info(json.dumps(record, sort_keys=True), extra={"audit": record})
