"""Logs and metrics: JSON lines on the server's real stdout, Prometheus counts across workers."""

import json
import logging
import re
import sys
import time
from pathlib import Path

import pytest
from helpers import PASSWORD, Api, assert_problem
from live import call, server, together

from api import create_app
from api.core import logs
from api.runtime import settings

# --- logs -------------------------------------------------------------------------------


def _format(record):
    return json.loads(logs.JsonFormatter().format(record))


def test_formatter_puts_audit_fields_at_the_top_level():
    record = logging.makeLogRecord(
        {"name": "api.audit", "levelno": 20, "levelname": "INFO", "msg": "{}"}
    )
    record.audit = {"event": "logout", "user_id": 3, "request_id": "r1"}
    entry = _format(record)
    assert entry["message"] == "logout" and entry["user_id"] == 3
    assert {"timestamp", "level", "logger", "request_id", "pid"} <= set(entry)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["timestamp"])


def test_formatter_adds_the_request_id_inside_a_request(app):
    record = logging.makeLogRecord(
        {"name": "api", "levelname": "WARNING", "msg": "x %s", "args": (1,)}
    )
    with app.test_request_context("/", headers={"X-Request-ID": "abc-123"}):
        app.preprocess_request()
        entry = _format(record)
    assert entry["message"] == "x 1" and entry["request_id"] == "abc-123"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln", "/[redacted]"),
        ("/a/eyJhbGciOiJ9.eyJzdWIi", "/a/[redacted]"),
        ("/" + "x" * 500, "/" + "x" * (logs.MAX_PATH - 1)),
        ("/plain/path", "/plain/path"),
    ],
)
def test_unmatched_paths_are_made_safe(path, logged):
    assert logs.safe_path(path) == logged


SECRET_QUERY = "access_token=never-in-a-log"


class Stdout:
    """A stand-in for sys.stdout that counts its flushes."""

    def __init__(self):
        self.text, self.flushes, self.writes = "", 0, []

    def write(self, text):
        self.text += text
        self.writes.append(text)

    def flush(self):
        self.flushes += 1


def _record(name, **fields):
    record = logging.makeLogRecord({"name": name, "levelname": "INFO", "levelno": 20, "msg": "m"})
    for key, value in fields.items():
        setattr(record, key, value)
    return record


def test_stdout_handler_flushes_audit_at_once_and_access_lines_soon(monkeypatch):
    stdout = Stdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    handler = logs.StdoutHandler(interval=0.05)
    handler.setFormatter(logs.JsonFormatter())
    handler.handle(_record("api.audit", audit={"event": "logout"}))
    assert (json.loads(stdout.text)["event"], stdout.flushes) == ("logout", 1)
    handler.handle(_record(logs.ACCESS, access={"status": 204}))
    assert stdout.text.count("\n") == 1 and stdout.flushes == 1  # queued, not yet written
    deadline = time.monotonic() + 5
    while stdout.flushes < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stdout.flushes == 2  # the timer thread wrote it
    assert stdout.text.count("\n") == 2


def test_access_lines_are_written_in_whole_lines_of_at_most_a_pipe_buffer(monkeypatch):
    """Workers share stdout: a write() that cut a line could interleave with another's."""
    stdout = Stdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    handler = logs.StdoutHandler(interval=60)
    handler.setFormatter(logs.JsonFormatter())
    sizes = [100, 3000, 5000, 10, 4095, 1, 700] * 5
    for size in sizes:
        handler.write_access("x" * size)
    assert stdout.writes == []  # queued
    handler.flush()
    assert stdout.text == "".join("x" * size + "\n" for size in sizes)
    for written in stdout.writes:
        assert written.endswith("\n")
        assert len(written) <= logs.StdoutHandler.CHUNK or written.count("\n") == 1
    assert len(stdout.writes) == stdout.flushes  # each chunk is flushed on its own


ACCESS_FIELDS = {"method": "GET", "path": "/x", "status": 200, "request_id": "r1", "bytes": None}


def _access_lines(monkeypatch, handler_filter=None):
    """What ``logs.access`` writes with the servers' logging set-up (``dict_config``)."""
    stdout = Stdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    handler = logs.StdoutHandler()
    handler.setFormatter(logs.JsonFormatter())
    if handler_filter is not None:
        handler.addFilter(handler_filter)
    root.addHandler(handler)
    logs.access("GET /x 200", dict(ACCESS_FIELDS))
    handler.flush()
    return [json.loads(line) for line in stdout.text.splitlines()]


@pytest.mark.parametrize("kept", [True, False])
def test_the_direct_access_line_is_the_formatter_s_line(monkeypatch, kept):
    """The direct path (no LogRecord) writes what the formatter would; a filter still applies."""
    direct = _access_lines(monkeypatch)
    (formatted,) = direct
    calls = []

    def keep(record):
        calls.append(record)
        return kept

    through_record = _access_lines(monkeypatch, handler_filter=keep)
    assert len(calls) == 1  # the filter made the record path run
    if not kept:
        assert through_record == []
        return
    (record_line,) = through_record
    assert list(formatted) == list(record_line)  # same keys, same order
    formatted.pop("timestamp"), record_line.pop("timestamp")
    assert formatted == record_line
    assert formatted["message"] == "GET /x 200" and formatted["logger"] == logs.ACCESS


def test_the_app_configures_logging_only_where_nothing_else_did(monkeypatch):
    root = logging.getLogger()
    assert root.handlers  # pytest's own: a configured host is left alone
    assert logs.configure_unless_configured() is False
    saved = root.handlers[:], root.level
    monkeypatch.setattr(root, "handlers", [])
    try:
        assert logs.configure_unless_configured() is True
        (handler,) = root.handlers
        assert isinstance(handler, logs.StdoutHandler)
        assert isinstance(handler.formatter, logs.JsonFormatter)
        assert logging.getLogger("gunicorn.access").level == logging.CRITICAL
    finally:
        root.handlers[:], root.level = saved


# `gunicorn 'api:create_app()'` as a user runs it from an installed package: from a
# folder without our gunicorn.conf.py, so nothing but the app configures logging
PLAIN_GUNICORN = [
    str(Path(sys.executable).with_name("gunicorn")),
    "--bind",
    "{bind}",
    "api:create_app()",
]


@pytest.mark.live
@pytest.mark.parametrize("plain", [False, True], ids=["serve", "plain-gunicorn"])
def test_the_server_writes_json_lines_without_secrets(tmp_path, plain):
    """register, a failed login, a login, logout: the audit and access records reach the
    server's stdout as JSON objects; under ``serve`` every line is one."""
    command = PLAIN_GUNICORN if plain else None
    with server(tmp_path / "instance", command=command, cwd=tmp_path) as running:
        body = {"username": "logged", "password": PASSWORD}
        assert call(running.base, "POST", "/auth/register?" + SECRET_QUERY, body)[0] == 201
        wrong = {"username": "logged", "password": "not the password at all"}
        assert call(running.base, "POST", "/auth/login", wrong)[0] == 401
        pair = call(running.base, "POST", "/auth/login", body)[2]
        token = pair["access_token"]
        assert call(running.base, "POST", "/auth/logout", token=token)[0] == 204
    output = running.log.read_text()  # all of it: the server has stopped
    lines = output.splitlines()
    if plain:  # gunicorn's master (not our code) writes its own plain lines to stderr
        lines = [line for line in lines if line.startswith("{")]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= set(record), record
    audit = [r for r in records if r["logger"] == "api.audit"]
    assert [r["event"] for r in audit] == [
        "user.registered",
        "login.failure",
        "login.success",
        "logout",
    ]
    access = {(r["method"], r["path"], r["status"]) for r in records if r["logger"] == "api.access"}
    assert {
        ("POST", "/auth/register", 201),
        ("POST", "/auth/login", 401),
        ("POST", "/auth/login", 200),
        ("POST", "/auth/logout", 204),
    } <= access
    for record in audit + [r for r in records if r["logger"] == "api.access"]:
        assert re.fullmatch(r"[0-9a-f]{32}", record["request_id"]), record
    # an audit event and its request's access line share the request id
    failure = next(r for r in audit if r["event"] == "login.failure")
    assert any(
        r["request_id"] == failure["request_id"] and r["status"] == 401
        for r in records
        if r["logger"] == "api.access"
    )
    for secret in (PASSWORD, wrong["password"], token, pair["refresh_token"], "never-in-a-log"):
        assert secret not in output
    assert token.split(".")[1] not in output


# --- metrics ----------------------------------------------------------------------------


def _samples(text):
    """Prometheus text to ``{(name, frozenset(labels)): value}``."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        assert match, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        found[(match[1], labels)] = float(match[3])
    return found


def _value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def _metrics(base):
    import urllib.request

    with urllib.request.urlopen(base + "/metrics", timeout=15) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return _samples(response.read().decode())


@pytest.mark.live
@pytest.mark.parametrize("server_name", settings.SERVERS)
def test_counts_add_up_across_workers(tmp_path, server_name):
    env = {"SERVER": server_name}
    with server(tmp_path / "instance", env=env, workers=2) as running:
        base = running.base
        before = _metrics(base)
        livez = 0
        while len({pid for _, pid in running.access_lines("GET", "/livez")}) < 2:
            assert {s for s, _, _ in together(8, call, base, "GET", "/livez")} == {200}
            livez += 8
            assert livez < 800, "the requests never reached two workers"
        body = {"username": "counted", "password": PASSWORD}
        assert call(base, "POST", "/auth/register", body)[0] == 201
        wrong = {"username": "counted", "password": "not the password at all"}
        assert {s for s, _, _ in together(3, call, base, "POST", "/auth/login", wrong)} == {401}
        logins = together(2, call, base, "POST", "/auth/login", body)
        assert {s for s, _, _ in logins} == {200}
        assert call(base, "POST", "/auth/logout", token=logins[0][2]["access_token"])[0] == 204
        refresh = logins[1][2]["refresh_token"]
        assert call(base, "POST", "/auth/refresh", token=refresh)[0] == 200
        assert call(base, "POST", "/auth/refresh", token=refresh)[0] == 401  # reuse
        assert call(base, "GET", "/nowhere/eyJhbGciOi.eyJzdWIi")[0] == 404
        after = _metrics(base)

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    duration = "http_request_duration_seconds_count"
    assert delta(duration, method="GET", route="/livez", status="200") == livez
    assert delta(duration, method="POST", route="/auth/login", status="401") == 3
    assert delta(duration, method="POST", route="/auth/login", status="200") == 2
    assert delta(duration, method="POST", route="/auth/refresh", status="401") == 1
    assert delta(duration, method="GET", route="unmatched", status="404") == 1
    assert (
        delta(
            "http_request_duration_seconds_bucket",
            method="GET",
            route="/livez",
            status="200",
            le="+Inf",
        )
        == livez
    )
    events = "jwtauth_security_events_total"
    assert delta(events, event="login.failure") == 3
    assert delta(events, event="login.success") == 2
    assert delta(events, event="refresh.reuse_detected") == 1
    assert delta("jwtauth_revocations_total", reason="logout") == 1
    assert delta("jwtauth_revocations_total", reason="refresh_reuse") == 1


def test_metrics_from_loopback_only_by_default(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert_problem(outside, 404)


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Basic x", 401), ("Bearer " + "m" * 40, 200)],
)
def test_metrics_bearer_token(config, header, status):
    config["METRICS_BEARER_TOKEN"] = "m" * 40
    client = create_app(config).test_client()
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_can_be_disabled(config):
    config["METRICS_ENABLED"] = False
    assert_problem(create_app(config).test_client().get("/metrics"), 404)


def test_a_short_metrics_token_is_refused(config):
    from api.core.config import ConfigError

    config["METRICS_BEARER_TOKEN"] = "short"
    with pytest.raises(ConfigError, match="FLASK_METRICS_BEARER_TOKEN"):
        create_app(config)


def test_in_process_counters_and_labels(app):
    api = Api(app.test_client())
    api.register()
    api.login(password="wrong password 123")
    api.client.open("/livez", method="BREW")
    text = api.client.get("/metrics").get_data(as_text=True)
    samples = _samples(text)
    assert _value(samples, "jwtauth_security_events_total", event="login.failure") >= 1
    # a made-up method is counted under "other", never as its own label value
    assert 'method="BREW"' not in text
    assert (
        _value(
            samples,
            "http_request_duration_seconds_count",
            method="other",
            route="unmatched",
            status="405",
        )
        >= 1
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_access_log_setting(config, caplog, enabled):
    caplog.set_level(logging.INFO, logger="api.access")
    config["ACCESS_LOG"] = enabled
    client = create_app(config).test_client()
    before = _value(
        _samples(client.get("/metrics").get_data(as_text=True)),
        "http_request_duration_seconds_count",
        method="GET",
        route="/livez",
        status="200",
    )
    client.get("/livez?token=never-logged")
    lines = [r for r in caplog.records if r.name == "api.access" and r.access["path"] == "/livez"]
    assert len(lines) == (1 if enabled else 0)
    assert "never-logged" not in caplog.text
    after = _samples(client.get("/metrics").get_data(as_text=True))
    count = _value(
        after, "http_request_duration_seconds_count", method="GET", route="/livez", status="200"
    )
    assert count == before + 1  # counted either way


def test_lines_waiting_are_bounded_when_stdout_does_not_drain(monkeypatch):
    """Should stdout block, the oldest waiting access lines go, not the worker's memory."""
    stdout = Stdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    handler = logs.StdoutHandler(interval=60)
    extra = 5
    for number in range(logs.StdoutHandler.MAX_PENDING + extra):
        handler.write_access(str(number))
    handler.flush()
    lines = stdout.text.splitlines()
    assert len(lines) == logs.StdoutHandler.MAX_PENDING
    assert lines[0] == str(extra) and lines[-1] == str(logs.StdoutHandler.MAX_PENDING + extra - 1)
