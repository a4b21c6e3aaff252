"""Security events reach the audit log, without tokens or passwords."""

import json
import logging

import pytest
from helpers import PASSWORD


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
    assert events[1]["username"] == "alice" and events[1]["user_id"] is None
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
