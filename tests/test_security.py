"""api.security: bearer tokens only, no cookie sessions."""

from flask import session


def test_no_cookie_session_is_opened_or_set(app, api):
    token = api.tokens()["access_token"]
    response = api.get("/protected", token)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    with app.test_request_context():
        assert session.__class__.__name__ == "NullSession"
