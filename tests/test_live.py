"""The app under gunicorn: the production server works from a plain install."""

import json
import urllib.request

from helpers import PASSWORD


def call(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_login_flow_across_workers(live_server):
    assert (
        call(live_server, "POST", "/auth/register", {"username": "live", "password": PASSWORD})[0]
        == 201
    )
    status, pair = call(
        live_server, "POST", "/auth/login", {"username": "live", "password": PASSWORD}
    )
    assert status == 200
    # several calls land on both workers; all of them honour the same key and store
    for _ in range(6):
        assert call(live_server, "GET", "/protected", token=pair["access_token"])[0] == 200
    assert call(live_server, "POST", "/auth/logout", token=pair["access_token"])[0] == 204
    for _ in range(6):
        assert call(live_server, "GET", "/protected", token=pair["access_token"])[0] == 401
