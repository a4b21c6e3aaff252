"""gunicorn settings, shipped in the package.

``jwt-auth-api serve`` with ``SERVER=gunicorn-sync`` or ``gunicorn-gthread`` runs
gunicorn with this module (``--config python:api.runtime.gunicorn_conf``);
``./gunicorn.conf.py`` in a checkout re-exports it, so ``gunicorn 'api:create_app()'``
gets the same settings. Each value can be overridden on the command line or
through ``GUNICORN_CMD_ARGS``; ``BIND``, ``WEB_CONCURRENCY``, ``WEB_THREADS`` and
``REQUEST_TIMEOUT`` are read as by ``serve`` (api/runtime/settings.py).
"""

import os
from typing import Any

from api.core import logs, metrics
from api.runtime import settings as _settings

# SERVER picks sync or gthread; anything else (granian, unset) means sync here
_server = os.environ.get("SERVER")
if _server not in (_settings.GUNICORN_SYNC, _settings.GUNICORN_GTHREAD):
    _server = _settings.GUNICORN_SYNC
_serve = _settings.from_env(server=_server)

bind = _serve.bind
workers = _serve.workers
worker_class = "gthread" if _serve.server == _settings.GUNICORN_GTHREAD else "sync"
threads = _serve.threads
# a sync worker silent this long is killed and replaced; gthread only heartbeats from
# its main thread, so under serve api.runtime.watchdog bounds each request
timeout = int(_serve.request_timeout)
graceful_timeout = int(_serve.graceful_timeout)
keepalive = 2
# No worker recycling: nothing leaks that needs it, and every recycled worker would
# leave its metrics files behind in PROMETHEUS_MULTIPROC_DIR.
max_requests = 0
# Start-up migrations run in each worker under a lock (api.core.database), or once
# before the workers under serve; no preload.
preload_app = False
# No control socket (gunicorn >= 27): it would be one shared path per user.
control_socket_disable = True

# Logs: JSON lines on stdout (api.core.logs); the app writes the access log itself
# (api.core.observability): method, path without query string, status, duration.
accesslog = None
errorlog = "-"
logconfig_dict = logs.dict_config()

# Metrics of every worker add up (prometheus_client multiprocess mode): the directory
# is made (or emptied) here, in the master, before any worker imports prometheus_client.
metrics.prepare_multiprocess_dir()


def child_exit(server: Any, worker: Any) -> None:
    metrics.worker_exited(worker.pid)
