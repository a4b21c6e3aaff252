"""The app the server's workers load under ``jwt-auth-api serve``."""

from __future__ import annotations

import os

from flask import Flask

from .. import create_app
from .memory import tune_malloc
from .settings import DEFAULT_REQUEST_TIMEOUT
from .watchdog import Watchdog


def application() -> Flask:
    """``create_app()`` with the stuck-request watchdog around it (and malloc tuned)."""
    tune_malloc()
    app = create_app()
    timeout = float(os.environ.get("REQUEST_TIMEOUT") or DEFAULT_REQUEST_TIMEOUT)
    app.wsgi_app = Watchdog(app.wsgi_app, timeout)  # type: ignore[method-assign]
    return app
