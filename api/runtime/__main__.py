"""``python -m api.runtime serve``: the same as ``jwt-auth-api serve``."""

import sys

from .cli import main

sys.exit(main())
