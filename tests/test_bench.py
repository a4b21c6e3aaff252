"""The benchmark's load generators against a real server (no timing asserted here)."""

import pytest
from helpers import missing_tool

from bench import load, report


@pytest.mark.live
@pytest.mark.parametrize("wrk", [True, False], ids=["wrk", "python"])
def test_load_generators_count_requests_and_failures(live_server, monkeypatch, wrk):
    if not wrk:
        monkeypatch.setattr(load, "WRK", None)
    elif not load.WRK:
        missing_tool("wrk is not installed (apt-get install wrk)")
    ok = load.run(live_server + "/health", seconds=1, connections=2)
    assert ok.requests > 0
    assert ok.errors == 0
    assert 0 < ok.p50_ms <= ok.p99_ms
    refused = load.run(live_server + "/protected", seconds=1, connections=2, token="x.y.z")
    assert refused.errors == refused.requests > 0


def _variant(cpu_us, vs_floor, vs_reference):
    return {
        "rps": 1, "p50_ms": 1, "p99_ms": 2, "cpu_us": cpu_us,
        "vs_floor": vs_floor, "vs_reference": vs_reference,
    }  # fmt: skip


def _server(vs_floor, vs_reference, flood, rss):
    names = ("protected", "protected (first use)", "health", "seed", "floor", "reference")
    return {
        "workers": 2, "threads": 4,
        "variants": {name: _variant(100, vs_floor, vs_reference) for name in names},
        "login": {"rps": 1, "p99_ms": 1, "cpu_us": 1},
        "flood": {
            "login_rps": 1, "p50_ms": 1, "p99_ms": 3, "p99_vs_idle": flood,
            "idle_p50_ms": 1, "idle_p99_ms": 1,
        },
        "rss_mb": rss, "rss_after_login_mb": rss + 20,
        "kill": {"killed": 2, "serving_s": None}, "hung": {"skipped": "no redis-server"},
    }  # fmt: skip


def test_report_names_unmet_targets_for_the_default_server():
    results = {
        "options": {"connections": 4, "rounds": 1, "seconds": 1},
        "generator": "wrk", "serve": True, "default_server": "granian",
        "servers": {
            "gunicorn-sync": _server(1.2, 2.0, 1.0, 50),
            "granian": _server(1.5, 1.9, 3.0, 70),
        },
    }  # fmt: skip
    text = report.table(results)
    assert "targets for the default server (granian)" in text
    assert "1.50x (≤ 1.4x: NOT met)" in text
    assert "1.90x (≥ 1.8x: met)" in text
    assert "3.00x idle (≤ 2.0x: NOT met)" in text
    assert "70 MB (≤ 75: met)" in text
    assert "| **granian** (default) |" in text and "| gunicorn-sync |" in text
    assert "not in 60 s" in text


def test_cpu_of_a_process_survives_a_thread_ending(tmp_path, monkeypatch):
    """A thread gone between listing and reading loses its own time, not the process's."""
    from pathlib import Path

    from bench import server

    tasks = tmp_path / "proc" / "42" / "task"
    (tasks / "1").mkdir(parents=True)
    (tasks / "1" / "schedstat").write_text("2500000000 10 3\n")
    (tasks / "2").mkdir()  # ended: its files are gone
    monkeypatch.setattr(
        server, "Path", lambda name: Path(str(name).replace("/proc", str(tmp_path / "proc")))
    )
    assert server._cpu_seconds(42) == 2.5
    assert server._cpu_seconds(43) == 0.0  # no such process
