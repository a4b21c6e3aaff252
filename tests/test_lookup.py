"""The revocation look-up on a persistent connection."""

import pytest
from helpers import Api

from api import create_app
from api.tokens.lookup import RevocationLookup, supported


def test_lookup_sees_revocations_committed_elsewhere_and_survives_a_dropped_connection(
    config, monkeypatch
):
    monkeypatch.delenv("REDIS_URL", raising=False)  # the SQL token store's look-up
    app = create_app(config)
    api = Api(app.test_client())
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    lookup = app.extensions["revocation_lookup"]
    assert isinstance(lookup, RevocationLookup)
    lookup._local.driver.close()  # as after a database restart
    assert lookup(["x"]) is None  # cannot tell: the store asks through the session
    assert api.get("/protected", token).status_code == 200
    assert lookup(["x"]) is False  # reconnected
    driver = lookup._local.driver
    with app.app_context():
        from api.extensions import db

        db.engine.dispose()
    assert lookup._open == []
    with pytest.raises(lookup._errors):  # closed with the engine
        driver.cursor().execute("SELECT 1")
    assert api.post("/auth/logout", token).status_code == 204
    assert api.get("/protected", token).status_code == 401


def test_in_memory_sqlite_uses_the_session(config):
    from sqlalchemy import create_engine

    assert not supported(create_engine("sqlite://"))
    assert not supported(create_engine("sqlite:///:memory:"))
    assert supported(create_engine("sqlite:////tmp/x.sqlite"))
