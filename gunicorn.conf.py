"""gunicorn settings, picked up by ``gunicorn 'api:create_app()'`` from this directory.

Each value can be overridden on the command line or through ``GUNICORN_CMD_ARGS``;
``WEB_CONCURRENCY`` sets the worker count and ``BIND`` (or ``PORT``) the address.
"""

import multiprocessing
import os

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Password hashing (argon2) is CPU-bound: about one worker per core, plus one.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
worker_class = "sync"
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 10
keepalive = 2
max_requests = 10_000  # recycle workers now and then, with jitter so not all at once
max_requests_jitter = 1_000
# Start-up migrations run in each worker under a lock (api.database); no preload.
preload_app = False
# No control socket (gunicorn >= 27): it would be one shared path per user.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# Never log tokens: method and path only (no query string), no Authorization, no
# referrer; %(p)s is the worker pid, %(M)s the duration in milliseconds.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms pid=%(p)s "%(a)s"'
