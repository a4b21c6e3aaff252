"""What runs once before any worker starts (``jwt-auth-api serve`` forks a child for it).

Builds the app once: that checks the configuration (a production app without its
secrets stops here, with the reason, instead of failing in every worker) and, with
``AUTO_MIGRATE`` on, brings the database to the newest migration.
"""

from __future__ import annotations

import logging
import sys

from ..core.config import ConfigError


def run() -> None:
    """Create the app once; exit 2 with the reason when the configuration is refused."""
    from .. import create_app

    try:
        app = create_app()
    except ConfigError as error:
        logging.getLogger("api.runtime").critical(str(error))
        sys.exit(2)
    with app.app_context():
        from ..core.extensions import db

        db.engine.dispose()
