"""`jwt-auth-api serve`'s settings from the environment (api/runtime/settings.py)."""

import pytest

from api.runtime import settings
from api.runtime.settings import SettingsError, from_env, parse_bind


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("10.0.0.7:80", ("10.0.0.7", 80)),
        ("[::1]:9000", ("::1", 9000)),
        (" localhost:1 ", ("localhost", 1)),
    ],
)
def test_parse_bind(value, expected):
    assert parse_bind(value) == expected


@pytest.mark.parametrize("value", ["8000", ":8000", "host:", "host:0", "host:65536", "host:x"])
def test_parse_bind_refuses(value):
    with pytest.raises(SettingsError, match="expected host:port"):
        parse_bind(value)


def test_defaults(monkeypatch):
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 3)
    chosen = from_env({})
    assert (chosen.server, chosen.bind) == (settings.DEFAULT_SERVER, settings.DEFAULT_BIND)
    assert (chosen.workers, chosen.threads) == (3, settings.DEFAULT_THREADS)
    assert chosen.request_timeout == settings.DEFAULT_REQUEST_TIMEOUT
    assert chosen.graceful_timeout == settings.DEFAULT_GRACEFUL_TIMEOUT


def test_sync_workers_have_one_thread_and_one_more_worker_than_cores(monkeypatch):
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 2)
    chosen = from_env({"SERVER": settings.GUNICORN_SYNC, "WEB_THREADS": "8"})
    assert (chosen.workers, chosen.threads) == (3, 1)


def test_environment_and_overrides():
    env = {
        "SERVER": settings.GUNICORN_GTHREAD,
        "BIND": "[::1]:9000",
        "WEB_CONCURRENCY": "5",
        "WEB_THREADS": "2",
        "REQUEST_TIMEOUT": "2.5",
        "GRACEFUL_TIMEOUT": "1",
    }
    chosen = from_env(env)
    assert (chosen.server, chosen.bind, chosen.workers, chosen.threads) == (
        settings.GUNICORN_GTHREAD,
        "[::1]:9000",
        5,
        2,
    )
    assert (chosen.request_timeout, chosen.graceful_timeout) == (2.5, 1.0)
    # the command line wins over the environment
    chosen = from_env(env, server=settings.GRANIAN, bind="127.0.0.1:1", workers=1, threads=3)
    assert (chosen.server, chosen.bind, chosen.workers, chosen.threads) == (
        settings.GRANIAN,
        "127.0.0.1:1",
        1,
        3,
    )


def test_port_alone_binds_loopback():
    assert from_env({"PORT": "8123"}).bind == "127.0.0.1:8123"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SERVER": "uwsgi"}, "choose one of granian, gunicorn-sync, gunicorn-gthread"),
        ({"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY='many' is not a number"),
        ({"WEB_CONCURRENCY": "0"}, "must be positive"),
        ({"WEB_THREADS": "-2"}, "must be positive"),
        ({"REQUEST_TIMEOUT": "soon"}, "is not a number"),
        ({"BIND": "nowhere"}, "expected host:port"),
    ],
)
def test_invalid_settings_are_refused_with_their_name(env, message):
    with pytest.raises(SettingsError, match=message):
        from_env(env)


def test_empty_values_mean_the_default():
    assert from_env({"WEB_THREADS": "", "REQUEST_TIMEOUT": ""}).threads == settings.DEFAULT_THREADS
