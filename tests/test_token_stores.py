"""The two token stores behind one interface: SQL (default) and Redis (REDIS_URL).

Both run on every configuration: without REDIS_URL the Redis store is tested
against a redis-server this test session starts on a free port (``redis_url``).
"""

from datetime import UTC, datetime, timedelta

import backends
import pytest
from live import together

from api import create_app
from api.core.extensions import db
from api.tokens import service
from api.tokens.redis_store import RedisTokenStore
from api.tokens.store import FRESH, SPENT, UNKNOWN, EpochMoved, SessionRecord, SqlTokenStore
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


def record(user_id, family="fam-1", jti="jti-1", *, epoch=0, last_used=None, **changes):
    moment = last_used or datetime.now(UTC)
    fields = dict(
        id=family,
        user_id=user_id,
        epoch=epoch,
        refresh_jti=jti,
        created_at=moment,
        last_used_at=moment,
        expires_at=later(days=1),
        user_agent="curl/8",
        ip="127.0.0.1",
    )
    return SessionRecord(**{**fields, **changes})


def create(store, *records, max_sessions=100):
    for item in records:
        store.create_session(item, max_sessions)
    db.session.commit()


def test_store_follows_configuration(store_app, store):
    expected = RedisTokenStore if store_app.config["REDIS_URL"] else SqlTokenStore
    assert type(store) is expected


def test_a_token_is_valid_only_with_a_live_session_of_its_user(store, user_id):
    assert store.is_revoked("jti-a", "fam-1", user_id)  # no session yet
    create(store, record(user_id))
    assert not store.is_revoked("jti-a", "fam-1", user_id)
    assert store.is_revoked("jti-a", "fam-1", user_id + 1)  # someone else's session id
    assert store.is_revoked("jti-a", None, user_id)  # no session claim at all
    store.revoke("jti-a", later(hours=1))
    store.revoke("jti-a", later(hours=1))  # idempotent
    db.session.commit()
    assert store.is_revoked("jti-a", "fam-1", user_id)
    assert not store.is_revoked("jti-b", "fam-1", user_id)
    assert store.end_session(user_id, "fam-1")
    db.session.commit()
    assert store.is_revoked("jti-b", "fam-1", user_id)


def test_rotate_states(store, user_id):
    create(store, record(user_id))
    now = datetime.now(UTC)
    assert store.rotate("fam-x", user_id, "jti-1", "jti-2", now, later(days=1)) == UNKNOWN
    assert store.rotate("fam-1", user_id + 1, "jti-1", "jti-2", now, later(days=1)) == UNKNOWN
    assert store.rotate("fam-1", user_id, "jti-1", "jti-2", now, later(days=1)) == FRESH
    assert store.rotate("fam-1", user_id, "jti-2", "jti-3", now, later(days=1)) == FRESH
    db.session.commit()
    # an earlier refresh token of the session comes back: theft, the session ends
    assert store.rotate("fam-1", user_id, "jti-1", "jti-9", now, later(days=1)) == SPENT
    db.session.commit()
    assert store.is_revoked("any", "fam-1", user_id)
    assert store.rotate("fam-1", user_id, "jti-3", "jti-4", now, later(days=1)) == UNKNOWN


def test_concurrent_rotations_let_exactly_one_through(store_app, store, user_id):
    create(store, record(user_id, jti="jti-race"))

    def rotate(n):
        with store_app.app_context():
            try:
                return service.store().rotate(
                    "fam-1", user_id, "jti-race", f"next-{n}", datetime.now(UTC), later(days=1)
                )
            finally:
                db.session.commit()
                db.session.remove()

    counter = iter(range(100))
    states = together(12, lambda: rotate(next(counter)))
    assert states.count(FRESH) == 1
    assert set(states) <= {FRESH, SPENT, UNKNOWN}


def test_a_session_keeps_one_refresh_record_however_often_it_refreshes(store, user_id):
    create(store, record(user_id, jti="j0"))
    for n in range(300):
        state = store.rotate(
            "fam-1", user_id, f"j{n}", f"j{n + 1}", datetime.now(UTC), later(days=1)
        )
        assert state == FRESH
    db.session.commit()
    assert [s.refresh_jti for s in store.sessions_of(user_id)] == ["j300"]
    if isinstance(store, SqlTokenStore):
        assert store.count() == 1
    else:
        keys = list(store.client.scan_iter(match=store.prefix + "*"))
        assert len(keys) == 3  # the session, the user's set of sessions, the user's epoch


def test_sessions_per_user_are_capped_least_recently_used_first(store, user_id):
    base = datetime.now(UTC) - timedelta(hours=1)
    for n in range(5):
        moment = base + timedelta(minutes=n)
        item = record(user_id, f"fam-{n}", f"jti-{n}", last_used=moment)
        item = SessionRecord(**{**item.__dict__, "expires_at": moment + timedelta(days=1)})
        create(store, item, max_sessions=3)
    assert [s.id for s in store.sessions_of(user_id)] == ["fam-4", "fam-3", "fam-2"]


def test_sessions_of_lists_live_sessions_newest_first(store, user_id):
    old = datetime.now(UTC) - timedelta(hours=2)
    create(
        store,
        record(user_id, "fam-a", "j-a", last_used=old),
        record(user_id, "fam-b", "j-b"),
        record(user_id, "fam-gone", "j-g", expires_at=later(seconds=-5)),
    )
    listed = store.sessions_of(user_id)
    assert [s.id for s in listed] == ["fam-b", "fam-a"]
    assert listed[0].user_agent == "curl/8" and listed[0].ip == "127.0.0.1"
    assert store.sessions_of(user_id + 1) == []


def test_a_new_epoch_ends_every_session_but_the_kept_one(store, user_id):
    create(store, record(user_id, "fam-a", "j-a"), record(user_id, "fam-b", "j-b"))
    assert service.revoke_user(user_id, keep_family="fam-a") == 1
    db.session.commit()
    assert not store.is_revoked("x", "fam-a", user_id)
    assert store.is_revoked("x", "fam-b", user_id)
    assert [s.id for s in store.sessions_of(user_id)] == ["fam-a"]


def test_a_session_started_under_an_old_epoch_never_works(store, user_id):
    """A login that verified the password before a change stores its session after it."""
    service.revoke_user(user_id)
    db.session.commit()
    late = record(user_id, "fam-late", "j-late", epoch=0)  # read before the change
    try:
        create(store, late)
    except EpochMoved:
        assert isinstance(store, RedisTokenStore)  # Redis refuses it outright
    assert store.is_revoked("x", "fam-late", user_id)
    assert store.sessions_of(user_id) == []


def test_end_sessions_keeps_the_calling_one(store, user_id):
    create(store, *(record(user_id, f"fam-{n}", f"j-{n}") for n in range(3)))
    assert store.end_sessions(user_id, keep="fam-1") == 2
    db.session.commit()
    assert [s.id for s in store.sessions_of(user_id)] == ["fam-1"]
    assert not store.end_session(user_id + 1, "fam-1")  # not theirs
    assert store.end_session(user_id, "fam-1")


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
    redis_store.create_session(record(7, "fam-r", expires_at=later(hours=1)), 100)
    assert 598 <= client.ttl(key("revoked", "jti-ttl")) <= 601
    assert 3598 <= client.ttl(key("session", "fam-r")) <= 3601
    assert 3598 <= client.ttl(key("sessions", 7)) <= 3602
    redis_store.revoke("jti-expired", later(seconds=-1))  # nothing to remember
    assert not client.exists(key("revoked", "jti-expired"))


def test_redis_purge_drops_expired_sessions(redis_store):
    client, key = redis_store.client, redis_store._key
    redis_store.create_session(record(9, "fam-live"), 100)
    client.zadd(key("sessions", 9), {"fam-gone": later(seconds=-60).timestamp()})
    assert redis_store.purge() == 1
    assert [s.id for s in redis_store.sessions_of(9)] == ["fam-live"]


def test_redis_keys_stay_under_the_prefix(redis_store):
    redis_store.revoke("jti-prefix", later(minutes=1))
    redis_store.create_session(record(3, "fam-q"), 100)
    prefix = redis_store.prefix
    keys = {k.decode() for k in redis_store.client.scan_iter(match=prefix + "*")}
    assert keys == {
        f"{prefix}revoked:jti-prefix",
        f"{prefix}session:fam-q",
        f"{prefix}sessions:3",
        f"{prefix}epoch:3",
    }
