"""gunicorn settings for `gunicorn 'api:create_app()'` from a checkout.

They ship inside the package (api/runtime/gunicorn_conf.py, also used by
`jwt-auth-api serve`); this file only re-exports them.
"""

from api.runtime.gunicorn_conf import *  # noqa: F403
