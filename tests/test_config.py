"""Settings from the environment; production refuses weak secrets."""

import pytest

from api import create_app
from api.config import ConfigError


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
    from api.config import _sqlalchemy_url

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


def production(tmp_path, **settings):
    return create_app({"APP_ENV": "production", "INSTANCE_PATH": str(tmp_path), **settings})


@pytest.mark.parametrize("secret", [None, "", "short", "change-me-" + "x" * 40])
def test_production_refuses_weak_secret(tmp_path, secret):
    with pytest.raises(ConfigError, match="FLASK_SECRET_KEY"):
        production(tmp_path, SECRET_KEY=secret, KEYS_DIR=str(tmp_path / "keys"))


def test_production_refuses_implicit_keys(tmp_path):
    with pytest.raises(ConfigError, match="KEYS_DIR"):
        production(tmp_path, SECRET_KEY="r" * 48)


def test_production_starts_when_configured(tmp_path):
    app = production(tmp_path, SECRET_KEY="r" * 48, KEYS_DIR=str(tmp_path / "keys"))
    assert app.config["APP_ENV"] == "production"


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
