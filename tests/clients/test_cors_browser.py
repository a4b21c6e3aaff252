"""CORS in a real browser: a page on another loopback origin calls the API with fetch().

The API allows one origin (FLASK_CORS_ORIGINS); pages served from that origin and
from a second one each log in and call /protected. Chromium lets the first read
the answers and blocks the second (fetch() rejects).
"""

import http.server
import json
import threading
from contextlib import contextmanager

import pytest
from helpers import PASSWORD
from live import call, free_port, server

pytestmark = pytest.mark.live

USERNAME = "browser_user"
PAGE = b"<!doctype html><title>client</title><p>a page on another origin"
# the page's script: log in, then call /protected with the token; report what it could read
SCRIPT = """
async ([base, username, password]) => {
  try {
    const login = await fetch(base + "/auth/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username, password}),
    });
    const pair = await login.json();
    const protectedResponse = await fetch(base + "/protected", {
      headers: {"Authorization": "Bearer " + pair.access_token},
    });
    return {
      login: login.status,
      requestId: login.headers.get("X-Request-ID"),
      status: protectedResponse.status,
      body: await protectedResponse.json(),
    };
  } catch (error) {
    return {blocked: String(error)};
  }
}
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@contextmanager
def page_origin(port):
    """A static page served from http://127.0.0.1:<port>."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def origins():
    with page_origin(free_port()) as allowed, page_origin(free_port()) as other:
        yield allowed, other


@pytest.fixture(scope="module")
def cors_api(tmp_path_factory, origins):
    allowed, _ = origins
    env = {"FLASK_CORS_ORIGINS": json.dumps([allowed])}
    with server(tmp_path_factory.mktemp("cors") / "instance", env=env) as running:
        body = {"username": USERNAME, "password": PASSWORD}
        assert call(running.base, "POST", "/auth/register", body)[0] == 201
        yield running.base


def run_from(browser, origin, api_base):
    page = browser.new_page()
    try:
        page.goto(origin + "/")
        return page.evaluate(SCRIPT, [api_base, USERNAME, PASSWORD])
    finally:
        page.close()


def test_an_allowed_origin_logs_in_and_calls_protected(browser, origins, cors_api):
    result = run_from(browser, origins[0], cors_api)
    assert result.get("blocked") is None, result
    assert result["login"] == 200
    assert result["status"] == 200
    assert result["body"]["username"] == USERNAME
    assert len(result["requestId"]) == 32  # an exposed header the page may read


def test_another_origin_is_blocked_by_the_browser(browser, origins, cors_api):
    result = run_from(browser, origins[1], cors_api)
    assert "Failed to fetch" in result.get("blocked", ""), result
