"""Security events reach the audit log, without tokens or passwords."""

import json
import logging
import re

import pytest
import sqlalchemy as sa
from helpers import PASSWORD

from api import create_app
from api.core.extensions import db


@pytest.fixture
def audit_records(caplog):
    caplog.set_level(logging.INFO, logger="api.audit")

    def records():
        return [r.audit for r in caplog.records if r.name == "api.audit"]

    return records


def test_login_events(api, audit_records, caplog):
    api.register()
    api.login(password="wrong password 123")
    api.login()
    events = audit_records()
    assert [e["event"] for e in events] == ["user.registered", "login.failure", "login.success"]
    assert "username" not in events[1] and events[1]["user_id"] is None
    assert len(events[1]["username_hmac"]) == 32
    assert events[2]["user_id"] == 1
    for event in events:
        assert event["client"] == "127.0.0.1"
        assert len(event["request_id"]) == 32
    assert PASSWORD not in caplog.text and "wrong password" not in caplog.text


def test_session_events_never_log_tokens(api, audit_records, caplog):
    pair = api.tokens()
    api.post("/auth/refresh", pair["refresh_token"])
    api.post("/auth/refresh", pair["refresh_token"])
    fresh = api.login().json
    api.post("/auth/logout", fresh["access_token"])
    names = [e["event"] for e in audit_records()]
    assert "refresh.reuse_detected" in names and names[-1] == "logout"
    for token in (pair["access_token"], pair["refresh_token"], fresh["access_token"]):
        assert token not in caplog.text
        assert token.split(".")[1] not in caplog.text


def test_password_and_admin_events(api, admin_token, audit_records):
    pair = api.tokens("bob")
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    body = {"current_password": PASSWORD, "new_password": "another long password"}
    api.client.put("/users/me/password", json=body, headers=headers)
    api.client.delete("/users/2", headers={"Authorization": f"Bearer {admin_token}"})
    events = {e["event"]: e for e in audit_records()}
    assert events["password.changed"]["user_id"] == 2
    assert events["user.deleted"] == {**events["user.deleted"], "user_id": 2, "actor": 1}


def test_records_are_json_lines(api, caplog):
    caplog.set_level(logging.INFO, logger="api.audit")
    api.register()
    line = next(r.getMessage() for r in caplog.records if r.name == "api.audit")
    assert json.loads(line)["event"] == "user.registered"


def _failure_hmac(app, audit_records, username):
    app.test_client().post("/auth/login", json={"username": username, "password": "x" * 12})
    return audit_records()[-1]["username_hmac"]


def test_login_failure_logs_a_keyed_hash_of_the_username_never_the_text(
    app, config, audit_records, caplog
):
    """A password typed into the username field must not reach the logs."""
    typed = "my secret Passw0rd typed in the wrong field"
    first = _failure_hmac(app, audit_records, typed)
    assert typed not in caplog.text and "Passw0rd" not in caplog.text
    assert re.fullmatch("[0-9a-f]{32}", first)
    # equal for one account's spellings (canonical form), so an operator can correlate
    assert _failure_hmac(app, audit_records, "Alice") == _failure_hmac(app, audit_records, "alice")
    assert _failure_hmac(app, audit_records, "alice") != _failure_hmac(app, audit_records, "bob")
    # keyed: without SECRET_KEY a guess cannot be checked against the log
    other = create_app({**config, "SECRET_KEY": "o" * 48})
    theirs = _failure_hmac(other, audit_records, "alice")
    assert theirs != _failure_hmac(app, audit_records, "alice")


def test_database_errors_log_their_class_only(app, api, caplog):
    """An error's message holds the SQL statement and, by default, its parameters."""
    with app.app_context():
        db.session.execute(sa.text("ALTER TABLE users RENAME TO users_elsewhere"))
        db.session.commit()
    caplog.set_level(logging.INFO)
    try:
        response = api.register("carol", PASSWORD)
    finally:  # the PostgreSQL schema is shared by the session's tests
        with app.app_context():
            db.session.rollback()
            db.session.execute(sa.text("ALTER TABLE users_elsewhere RENAME TO users"))
            db.session.commit()
    assert response.status_code in (500, 503)
    assert "OperationalError" in caplog.text or "ProgrammingError" in caplog.text
    for secret in ("$argon2", "carol", "INSERT"):
        assert secret not in caplog.text


@pytest.mark.parametrize("options", [None, '{"echo": false}'])
def test_engine_hides_parameters_even_with_operator_options(monkeypatch, config, options):
    if options:
        monkeypatch.setenv("FLASK_SQLALCHEMY_ENGINE_OPTIONS", options)
    app = create_app(config)
    with app.app_context():
        assert db.engine.hide_parameters is True
