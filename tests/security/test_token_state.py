"""Token state stays bounded: refreshing a session never grows what is stored."""

from sqlalchemy import func, inspect, select, table

from api.core.extensions import db


def stored(app):
    """Every Redis key of the app, or every row outside the users table."""
    client = app.extensions.get("redis")
    if client is not None:
        return len(list(client.scan_iter(match=app.config["REDIS_KEY_PREFIX"] + "*")))
    with app.app_context():
        names = inspect(db.engine).get_table_names()
        count = 0
        for name in set(names) - {"users", "alembic_version"}:
            count += db.session.scalar(select(func.count()).select_from(table(name)))
        db.session.remove()
        return count


def test_refreshing_300_times_keeps_one_record_per_session(config, app, api):
    app.config["RATELIMIT_ENABLED"] = False  # this is about storage, not throttling
    pair = api.tokens()
    pair = api.post("/auth/refresh", pair["refresh_token"]).json
    before = stored(app)
    for _ in range(300):
        response = api.post("/auth/refresh", pair["refresh_token"])
        assert response.status_code == 200, response.json
        pair = response.json
    assert stored(app) == before
    assert api.get("/protected", pair["access_token"]).status_code == 200
