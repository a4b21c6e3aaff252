"""``jwt-auth-api serve``: the production server, with the settings shipped in the package.

Before any worker starts it empties (or makes) ``PROMETHEUS_MULTIPROC_DIR``, checks
the configuration and applies migrations once (``api.runtime.prestart``, in a forked
child, so the workers start with ``FLASK_AUTO_MIGRATE=false``); then it runs the
server named by ``SERVER`` (``api.runtime.settings.DEFAULT_SERVER`` by default):

- ``granian``: WSGI, ``WEB_CONCURRENCY`` worker processes of ``WEB_THREADS`` threads,
  failed workers respawned, the stuck-request watchdog, SIGTERM lets in-flight
  requests finish for ``GRACEFUL_TIMEOUT`` seconds;
- ``gunicorn-sync`` / ``gunicorn-gthread``: gunicorn with ``api.runtime.gunicorn_conf``.

Logs go to stdout as JSON lines (``api.core.logs``).
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence

from ..core import logs, metrics
from ..version import __version__
from . import prestart
from . import settings as serve_settings
from .settings import ServeSettings, SettingsError

logger = logging.getLogger("api.runtime")
WSGI_TARGET = "api.runtime.wsgi:application"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jwt-auth-api", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the production server")
    serve.add_argument("--server", choices=serve_settings.SERVERS, help="default: $SERVER")
    serve.add_argument("--bind", help="host:port (default: $BIND or 127.0.0.1:8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: $WEB_CONCURRENCY)")
    serve.add_argument("--threads", type=int, help="threads per worker (default: $WEB_THREADS)")
    args = parser.parse_args(argv)
    logging.config.dictConfig(logs.dict_config())
    try:
        chosen = serve_settings.from_env(
            server=args.server, bind=args.bind, workers=args.workers, threads=args.threads
        )
    except SettingsError as error:
        logger.critical(str(error))
        return 2
    return run(chosen)


def run(chosen: ServeSettings) -> int:
    made_metrics_dir = not os.environ.get(metrics.MULTIPROC_ENV)
    metrics_dir = metrics.prepare_multiprocess_dir()
    try:
        status = _prestart()
        if status:
            return status
        os.environ["FLASK_AUTO_MIGRATE"] = "false"  # done once, above
        os.environ["REQUEST_TIMEOUT"] = str(chosen.request_timeout)
        logger.info(
            "serving",
            extra={
                "server": chosen.server,
                "bind": chosen.bind,
                "workers": chosen.workers,
                "threads": chosen.threads,
            },
        )
        if chosen.server == serve_settings.GRANIAN:
            _granian(chosen)
        else:
            _gunicorn(chosen)
        return 0
    finally:
        if made_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _prestart() -> int:
    """Check the configuration and migrate once, in a forked child.

    The child inherits this process's imports (no second interpreter start-up) and
    takes its database connections and app with it when it exits.
    """
    sys.stdout.flush()
    child = multiprocessing.get_context("fork").Process(target=prestart.run, name="prestart")
    child.start()
    child.join()
    return child.exitcode or 0


def _granian(chosen: ServeSettings) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    server = Granian(
        WSGI_TARGET,
        address=chosen.host,
        port=chosen.port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=chosen.workers,
        blocking_threads=chosen.threads,
        # at most as many requests inside a worker as it has threads; the rest wait
        # in the kernel's backlog, not in a Python queue
        backpressure=chosen.threads,
        http=HTTPModes.http1,
        websockets=False,
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, int(chosen.graceful_timeout)),
        log_dictconfig=logs.dict_config(),
        log_access=False,
    )
    server.serve()


def _gunicorn(chosen: ServeSettings) -> None:
    from gunicorn.app.wsgiapp import WSGIApplication

    os.environ["SERVER"] = chosen.server
    os.environ["BIND"] = chosen.bind
    os.environ["WEB_CONCURRENCY"] = str(chosen.workers)
    os.environ["WEB_THREADS"] = str(chosen.threads)
    sys.argv = [
        "gunicorn",
        "--config",
        "python:api.runtime.gunicorn_conf",
        f"{WSGI_TARGET}()",
    ]
    WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog="jwt-auth-api serve").run()


if __name__ == "__main__":
    sys.exit(main())
