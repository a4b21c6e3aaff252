"""The two token stores behind one interface: SQL (default) and Redis (REDIS_URL).

Both run on every configuration: without REDIS_URL the Redis store is tested
against a redis-server this test session starts on a free port (``redis_url``).
"""

from datetime import UTC, datetime, timedelta

import backends
import pytest
from live import together

from api import create_app
from api.extensions import db
from api.tokens import service
from api.tokens.redis_store import RedisTokenStore
from api.tokens.store import FRESH, SPENT, UNKNOWN, SqlTokenStore
from api.users import service as users


def close_redis(app):
    """Delete this test's keys and close the app's Redis client."""
    client = app.extensions.get("redis")
    if client is not None:
        backends.delete_prefixed(app.config["REDIS_KEY_PREFIX"], client)
        client.close()


@pytest.fixture(params=["sql", "redis"])
def store_app(request, config):
    config["REDIS_URL"] = request.getfixturevalue("redis_url") if request.param == "redis" else None
    config["REDIS_KEY_PREFIX"] = backends.redis_prefix("store")
    app = create_app(config)
    with app.app_context():
        user = users.create("owner", "p" * 12)
        app.config["TEST_USER_ID"] = user.id
        yield app
        db.session.remove()
    close_redis(app)


@pytest.fixture
def store(store_app):
    return service.store()


@pytest.fixture
def user_id(store_app):
    return store_app.config["TEST_USER_ID"]


def later(**delta):
    return datetime.now(UTC) + timedelta(**delta)


def test_store_follows_configuration(store_app, store):
    expected = RedisTokenStore if store_app.config["REDIS_URL"] else SqlTokenStore
    assert type(store) is expected


def test_is_revoked_checks_every_key(store):
    store.revoke("family-a", later(hours=1))
    db.session.commit()
    assert store.is_revoked("jti-x", "family-a")
    assert not store.is_revoked("jti-x", "family-b")
    store.revoke("family-a", later(hours=1))  # idempotent
    db.session.commit()
    assert store.is_revoked("family-a")


def test_spend_refresh_states(store, user_id):
    assert store.spend_refresh("never-issued") == UNKNOWN
    store.add_refresh("jti-1", "fam-1", user_id, later(days=1))
    db.session.commit()
    assert store.spend_refresh("jti-1") == FRESH
    db.session.commit()
    assert [store.spend_refresh("jti-1") for _ in range(2)] == [SPENT, SPENT]


def test_concurrent_spends_let_exactly_one_through(store_app, store, user_id):
    store.add_refresh("jti-race", "fam-race", user_id, later(days=1))
    db.session.commit()

    def spend():
        with store_app.app_context():
            try:
                return service.store().spend_refresh("jti-race")
            finally:
                db.session.commit()
                db.session.remove()

    assert sorted(together(12, spend)) == sorted([FRESH] + [SPENT] * 11)


def test_families_of_lists_live_families(store, user_id):
    store.add_refresh("j1", "fam-1", user_id, later(days=1))
    store.add_refresh("j2", "fam-1", user_id, later(days=1))
    store.add_refresh("j3", "fam-2", user_id, later(days=2))
    store.add_refresh("j4", "fam-old", user_id, later(seconds=-5))
    db.session.commit()
    assert sorted(store.families_of(user_id)) == ["fam-1", "fam-2"]
    assert store.families_of(user_id + 1) == []


@pytest.fixture
def redis_store(redis_url, config):
    config.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=backends.redis_prefix("store"))
    app = create_app(config)
    with app.app_context():
        yield service.store()
    close_redis(app)


def test_redis_keys_expire_with_the_token(redis_store):
    client, key = redis_store.client, redis_store._key
    redis_store.revoke("jti-ttl", later(minutes=10))
    redis_store.add_refresh("jti-r", "fam-r", 7, later(hours=1))
    assert 598 <= client.ttl(key("revoked", "jti-ttl")) <= 601
    assert 3598 <= client.ttl(key("refresh", "jti-r")) <= 3601
    assert 3598 <= client.ttl(key("families", 7)) <= 3602
    redis_store.revoke("jti-expired", later(seconds=-1))  # nothing to remember
    assert not client.exists(key("revoked", "jti-expired"))


def test_redis_purge_drops_expired_families(redis_store):
    client, key = redis_store.client, redis_store._key
    redis_store.add_refresh("jti-p", "fam-live", 9, later(hours=1))
    client.zadd(key("families", 9), {"fam-gone": later(seconds=-60).timestamp()})
    assert redis_store.purge() == 1
    assert redis_store.families_of(9) == ["fam-live"]


def test_redis_keys_stay_under_the_prefix(redis_store):
    redis_store.revoke("jti-prefix", later(minutes=1))
    redis_store.add_refresh("jti-q", "fam-q", 3, later(hours=1))
    prefix = redis_store.prefix
    keys = {k.decode() for k in redis_store.client.scan_iter(match=prefix + "*")}
    assert keys == {f"{prefix}revoked:jti-prefix", f"{prefix}refresh:jti-q", f"{prefix}families:3"}
