"""Settings from the environment; production refuses weak secrets."""

import os
import subprocess
import sys

import pytest

from api import create_app
from api.core.config import ConfigError


def test_prefixed_env_is_read(monkeypatch, config):
    monkeypatch.setenv("FLASK_JWT_ACCESS_TOKEN_EXPIRES", "60")
    monkeypatch.setenv("FLASK_REGISTRATION_OPEN", "false")
    app = create_app(config)
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == 60
    assert app.config["REGISTRATION_OPEN"] is False


def test_expires_in_follows_configuration(monkeypatch, config):
    monkeypatch.setenv("FLASK_JWT_ACCESS_TOKEN_EXPIRES", "60")
    client = create_app(config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": "p" * 12})
    body = client.post("/auth/login", json={"username": "alice", "password": "p" * 12}).json
    assert body["expires_in"] == 60


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.sqlite", "sqlite:////tmp/x.sqlite"),
    ],
)
def test_database_url_mapping(url, expected):
    from api.core.config import _sqlalchemy_url

    assert _sqlalchemy_url(url) == expected


def test_default_database_is_in_instance_folder(monkeypatch, config):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app(config)
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/app.sqlite")


def test_development_secret_is_generated_once(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_relative_instance_path_is_taken_from_the_working_directory(tmp_path):
    """INSTANCE_PATH=data, as a user types it: no traceback, the folder is ./data."""
    env = {**os.environ, "INSTANCE_PATH": "data"}
    env.pop("DATABASE_URL", None)
    shown = subprocess.run(
        [sys.executable, "-c", "from api import create_app; print(create_app().instance_path)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    # the last line: before it, the app's own JSON log lines (the migrations it ran)
    assert shown.stdout.splitlines()[-1] == str(tmp_path / "data")
    assert (tmp_path / "data" / "secret_key").is_file()


def production(tmp_path, **settings):
    return create_app({"APP_ENV": "production", "INSTANCE_PATH": str(tmp_path), **settings})


@pytest.mark.parametrize("secret", [None, "", "short", "change-me-" + "x" * 40])
def test_production_refuses_weak_secret(tmp_path, secret):
    with pytest.raises(ConfigError, match="FLASK_SECRET_KEY"):
        production(tmp_path, SECRET_KEY=secret, KEYS_DIR=str(tmp_path / "keys"))


def test_production_refuses_implicit_keys(tmp_path):
    with pytest.raises(ConfigError, match="KEYS_DIR"):
        production(tmp_path, SECRET_KEY="r" * 48)


SECRETS = {"SECRET_KEY": "r" * 48, "MFA_ENCRYPTION_KEY": "m" * 48}
# one worker process may keep its rate-limit counters in memory (see below)
PRODUCTION = {**SECRETS, "RATELIMIT_ALLOW_MEMORY_STORAGE": True}


def test_production_starts_when_configured(tmp_path):
    app = production(tmp_path, **PRODUCTION, KEYS_DIR=str(tmp_path / "keys"))
    assert app.config["APP_ENV"] == "production"
    assert not (tmp_path / "mfa_key").exists()


@pytest.mark.parametrize("key", [None, "", "short"])
def test_production_needs_an_mfa_key(tmp_path, key):
    settings = {**PRODUCTION, "MFA_ENCRYPTION_KEY": key}
    with pytest.raises(ConfigError, match="FLASK_MFA_ENCRYPTION_KEY"):
        production(tmp_path, **settings, KEYS_DIR=str(tmp_path / "keys"))


def test_development_mfa_key_is_made_once_and_private(tmp_path):
    create_app({"INSTANCE_PATH": str(tmp_path)})
    first = (tmp_path / "mfa_key").read_bytes()
    create_app({"INSTANCE_PATH": str(tmp_path)})
    assert (tmp_path / "mfa_key").read_bytes() == first and len(first) >= 32
    assert (tmp_path / "mfa_key").stat().st_mode & 0o077 == 0


MEMORY_REFUSED = "set REDIS_URL .* FLASK_RATELIMIT_ALLOW_MEMORY_STORAGE=true"


@pytest.mark.parametrize(
    ("settings", "workers", "refused"),
    [
        ({}, None, MEMORY_REFUSED),
        ({}, "1", MEMORY_REFUSED),
        ({"RATELIMIT_ALLOW_MEMORY_STORAGE": True}, "4", "WEB_CONCURRENCY is 4"),
        ({"RATELIMIT_ALLOW_MEMORY_STORAGE": True}, "1", None),
        ({"RATELIMIT_ALLOW_MEMORY_STORAGE": True}, None, None),
        ({"RATELIMIT_ENABLED": False}, "4", None),
    ],
    ids=["default", "one-worker-unstated", "allowed-many", "allowed-one", "allowed", "off"],
)
def test_production_refuses_per_worker_rate_limits(
    tmp_path, monkeypatch, settings, workers, refused
):
    """Memory counters are per worker: production needs shared ones or an explicit exception."""
    if workers is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", workers)
    settings = {**SECRETS, "KEYS_DIR": str(tmp_path / "keys"), **settings}
    settings["RATELIMIT_STORAGE_URI"] = "memory://"
    if refused:
        with pytest.raises(ConfigError, match=refused):
            production(tmp_path, **settings)
    else:
        assert production(tmp_path, **settings).config["APP_ENV"] == "production"


def test_production_starts_on_shared_rate_limits(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    app = production(tmp_path, **SECRETS, KEYS_DIR=str(tmp_path / "keys"), REDIS_URL=redis_url)
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    app.extensions["redis"].close()


@pytest.mark.parametrize("secret", [None, "x" * 31, "my-default-" + "x" * 30])
def test_hs256_needs_strong_secret(tmp_path, secret):
    with pytest.raises(ConfigError, match="FLASK_JWT_SECRET_KEY"):
        create_app(
            {"INSTANCE_PATH": str(tmp_path), "JWT_ALGORITHM": "HS256", "JWT_SECRET_KEY": secret}
        )


def test_unsupported_algorithm(tmp_path):
    with pytest.raises(ConfigError, match="not supported"):
        create_app({"INSTANCE_PATH": str(tmp_path), "JWT_ALGORITHM": "none"})


def test_postgresql_connections_have_bounded_timeouts(config):
    config.update(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://u@127.0.0.1:9/db",
        AUTO_MIGRATE=False,
        DATABASE_CONNECT_TIMEOUT=2,
    )
    options = create_app(config).config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"] == {"connect_timeout": 2, "tcp_user_timeout": 2000}
    assert options["pool_pre_ping"] is True


@pytest.mark.parametrize(
    ("trusted", "client"), [("1", "203.0.113.7"), ("0", "127.0.0.1")], ids=["trusted", "ignored"]
)
def test_forwarded_for_counts_only_behind_trusted_proxies(
    monkeypatch, config, caplog, trusted, client
):
    import logging

    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", trusted)
    caplog.set_level(logging.INFO, logger="api.audit")
    create_app(config).test_client().post(
        "/auth/register",
        json={"username": "alice", "password": "p" * 12},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    (record,) = [r.audit for r in caplog.records if r.name == "api.audit"]
    assert record["client"] == client


@pytest.mark.parametrize(
    ("algorithm", "secret", "message"),
    [
        ("RS256", None, "not supported"),
        ("none", None, "not supported"),
        ("HS1024", "s" * 200, "not supported"),
        ("hs256", "s" * 64, "not supported"),
        ("HS384", "k" * 40, "at least 48 bytes"),
        ("HS512", "k" * 60, "at least 64 bytes"),
    ],
)
def test_algorithms_that_cannot_work_are_refused_at_start(tmp_path, algorithm, secret, message):
    settings = {"INSTANCE_PATH": str(tmp_path), "JWT_ALGORITHM": algorithm}
    if secret:
        settings["JWT_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match=message):
        create_app(settings)
