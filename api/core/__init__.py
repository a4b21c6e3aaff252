"""Infrastructure: settings, extensions, errors, database, Redis, headers, logging.

Nothing here imports a feature package (tokens, users, auth, ...); features
build on this package, never the other way round (tests/test_layers.py).
"""
