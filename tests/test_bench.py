"""The benchmark's load generators against a real server (no timing asserted here)."""

import os

import pytest

from bench import load, report


@pytest.mark.live
@pytest.mark.parametrize("wrk", [True, False], ids=["wrk", "python"])
def test_load_generators_count_requests_and_failures(live_server, monkeypatch, wrk):
    if not wrk:
        monkeypatch.setattr(load, "WRK", None)
    elif not load.WRK:
        # CI installs wrk (.ci/run), so there a missing wrk is a failure, not a skip
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "wrk is not installed (apt-get install wrk)"
        )
    ok = load.run(live_server + "/health", seconds=1, connections=2)
    assert ok.requests > 0
    assert ok.errors == 0
    assert 0 < ok.p50_ms <= ok.p99_ms
    refused = load.run(live_server + "/protected", seconds=1, connections=2, token="x.y.z")
    assert refused.errors == refused.requests > 0


def test_report_names_unmet_targets():
    row = {"rps": 1, "p50_ms": 1, "p99_ms": 1, "cpu_us": 1, "health_cpu_us": 1}
    results = {
        "options": {"workers": 2, "connections": 4, "rounds": 1, "seconds": 1},
        "generator": "wrk",
        "stores": {},
        "variants": {"protected": {**row, "vs_health": 0.5, "vs_seed": 2.0}},
        "login": {"rps": 1, "p50_ms": 1, "p99_ms": 1, "cpu_us": 1},
        "flood": {"login_rps": 1, "p50_ms": 1, "p99_ms": 3, "p99_vs_idle": 3, "idle_p99_ms": 1},
        "rss_mb": {"defaults": 50},
        "rss_after_login_mb": 70,
        "issuing_us": {"EdDSA": {"signing_us": 100, "stored_us": 1200}},
    }
    text = report.table(results)
    assert "≥ 0.80x NOT met; ≥ 1.5x seed met" in text
    assert "target < 2x: NOT met" in text
    assert "met for signing; NOT met with the SQLite commit" in text
