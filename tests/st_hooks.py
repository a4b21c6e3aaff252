"""Schemathesis CLI hooks (``SCHEMATHESIS_HOOKS=st_hooks``, ``tests`` on ``PYTHONPATH``).

Registers the :mod:`st_auth` provider for every operation, so the CLI fuzzes
protected operations with real tokens obtained through the API under test.
"""

import schemathesis
import st_auth

st_auth.register_on(schemathesis)(st_auth.provider(st_auth.http_sessions))
