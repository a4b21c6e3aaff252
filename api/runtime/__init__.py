"""Running the app in production: ``jwt-auth-api serve`` and the servers' settings.

``settings`` reads the environment (``SERVER``, ``BIND``, ``WEB_CONCURRENCY``, ...),
``cli`` is the console script, ``gunicorn_conf`` the gunicorn settings (also
behind ``./gunicorn.conf.py``), ``wsgi`` the app factory the workers load, with
``watchdog`` bounding a request stuck on a hung backend.
"""
