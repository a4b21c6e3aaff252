"""api.tokens.security: bearer tokens only, no cookie sessions."""

import pytest
from flask import session


def test_no_cookie_session_is_opened_or_set(app, api):
    token = api.tokens()["access_token"]
    response = api.get("/protected", token)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    with app.test_request_context():
        assert session.__class__.__name__ == "NullSession"


def test_no_flask_limiter_limit_is_declared_on_a_bearer_token_operation(app):
    """What lets ``skips_flask_limiter`` skip Flask-Limiter's work on these operations."""
    from api.tokens.security import is_auth_required

    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if is_auth_required(app, rule.endpoint, method):
                checked += 1
                handler = getattr(view.view_class, method.lower())
                for wrapped in (view, handler):  # limits on the class or on the method
                    assert not hasattr(wrapped, "__wrapper-limiter-instance"), rule.endpoint
    assert checked >= 5


@pytest.mark.parametrize(
    ("settings", "limited"),
    [({}, False), ({"RATELIMIT_DEFAULT": "2 per minute"}, True)],
)
def test_global_limits_still_apply_to_bearer_token_operations(config, settings, limited):
    from helpers import Api

    from api import create_app

    app = create_app({**config, "RATELIMIT_ENABLED": True, **settings})
    api = Api(app.test_client())
    token = api.tokens()["access_token"]
    statuses = {api.get("/protected", token).status_code for _ in range(3)}
    assert statuses == ({200, 429} if limited else {200})
    assert api.login().status_code == 200  # login keeps its own limit, not skipped
