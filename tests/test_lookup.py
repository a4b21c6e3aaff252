"""The per-request session check on a persistent connection."""

import pytest
from helpers import Api

from api import create_app
from api.tokens.lookup import SessionLookup, supported


def test_lookup_sees_revocations_committed_elsewhere_and_survives_a_dropped_connection(
    config, monkeypatch
):
    monkeypatch.delenv("REDIS_URL", raising=False)  # the SQL token store's look-up
    app = create_app(config)
    api = Api(app.test_client())
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    lookup = app.extensions["session_lookup"]
    assert isinstance(lookup, SessionLookup)
    broken = lookup._local.driver
    broken.close()  # as after a database restart
    assert lookup("x", "y", 1) is None  # cannot tell: the store asks through the session
    assert broken not in [d for _, d in lookup._open]  # dropped, not kept until the engine goes
    assert api.get("/protected", token).status_code == 200
    assert lookup("x", "y", 1) is True  # reconnected: no such session
    driver = lookup._local.driver
    assert [d for _, d in lookup._open] == [driver]
    with app.app_context():
        from api.core.extensions import db

        db.engine.dispose()
    assert lookup._open == []
    with pytest.raises(lookup._errors):  # closed with the engine
        driver.cursor().execute("SELECT 1")
    assert api.post("/auth/logout", token).status_code == 204
    assert api.get("/protected", token).status_code == 401


def test_connections_of_finished_threads_are_closed(config, monkeypatch):
    """Servers retire idle threads (granian); their connections must not pile up."""
    import threading

    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app(config)
    Api(app.test_client()).tokens()
    with app.app_context():
        from api.core.extensions import db

        lookup = SessionLookup(db.engine)
    drivers = []

    def one_request():
        assert lookup("x", "y", 1) is True
        drivers.append(lookup._local.driver)

    for _ in range(5):
        thread = threading.Thread(target=one_request)
        thread.start()
        thread.join()
    assert lookup.open_connections() == 1  # the last thread's: it ended after opening it
    one_request()
    assert lookup.open_connections() == 1  # this thread's; every finished one closed
    for finished in drivers[:-1]:
        with pytest.raises(lookup._errors):
            finished.cursor().execute("SELECT 1")


def test_in_memory_sqlite_uses_the_session(config):
    from sqlalchemy import create_engine

    assert not supported(create_engine("sqlite://"))
    assert not supported(create_engine("sqlite:///:memory:"))
    assert supported(create_engine("sqlite:////tmp/x.sqlite"))
