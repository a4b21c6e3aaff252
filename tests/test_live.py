"""The app under `jwt-auth-api serve`: the production server works from a plain install."""

from helpers import PASSWORD
from live import call


def test_login_flow_across_workers(live_server):
    assert (
        call(live_server, "POST", "/auth/register", {"username": "live", "password": PASSWORD})[0]
        == 201
    )
    status, _, pair = call(
        live_server, "POST", "/auth/login", {"username": "live", "password": PASSWORD}
    )
    assert status == 200
    # several calls land on both workers; all of them honour the same key and store
    for _ in range(6):
        assert call(live_server, "GET", "/protected", token=pair["access_token"])[0] == 200
    assert call(live_server, "POST", "/auth/logout", token=pair["access_token"])[0] == 204
    for _ in range(6):
        assert call(live_server, "GET", "/protected", token=pair["access_token"])[0] == 401
