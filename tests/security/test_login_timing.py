"""Login costs the same for an unknown user as for a wrong password (no enumeration).

A benchmark-style check: it prints the medians and asserts only a loose bound.
Without the dummy hash an unknown user answers ~50x faster, far outside it.
"""

import statistics
import time

from helpers import PASSWORD

ROUNDS = 15


def median_ms(client, username):
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.post(
            "/auth/login", json={"username": username, "password": "wrong password 123"}
        )
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 401
    return statistics.median(samples)


def test_unknown_and_known_user_take_the_same_time(api):
    api.register("alice", PASSWORD)
    median_ms(api.client, "alice")  # warm-up: the dummy hash and caches
    median_ms(api.client, "nobody")
    known = median_ms(api.client, "alice")
    unknown = median_ms(api.client, "nobody")
    ratio = unknown / known
    print(f"\nlogin median: known {known:.1f} ms, unknown {unknown:.1f} ms, ratio {ratio:.2f}")
    assert 0.5 < ratio < 2.0
