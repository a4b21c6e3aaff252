"""Run the schemathesis CLI against the app under `jwt-auth-api serve` on 127.0.0.1.

``python tests/st_live.py [schemathesis run options]`` (see ``tox -e schemathesis``):
starts ``jwt-auth-api serve`` with a fresh instance folder, runs
``schemathesis run <base>/openapi.json`` with every check and phase, real tokens
(``st_hooks``) and the given options, prints the requests made per phase, and
exits with schemathesis' status (non-zero on any finding).
"""

import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from live import ROOT, gunicorn

COMMAND = [
    "run",
    "--checks", "all",
    "--phases", "examples,coverage,fuzzing,stateful",
    "--mode", "all",
    "--generation-database", "none",
    "--report", "ndjson",
]  # fmt: skip


def requests_per_phase(report_dir):
    """Count the HTTP requests of each phase in the ndjson report."""
    counts = collections.Counter()
    for report in Path(report_dir).glob("*.ndjson"):
        for line in report.read_text().splitlines():
            event = json.loads(line).get("ScenarioFinished")
            if event:
                counts[event["phase"]] += len(event["recorder"].get("interactions", ()))
    return counts


def main(options):
    with tempfile.TemporaryDirectory(prefix="st-live-") as tmp:
        instance = Path(tmp) / "instance"
        # the auth provider makes its admin with `flask users create` on the same instance
        os.environ["INSTANCE_PATH"] = str(instance)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")])
            ),
            "SCHEMATHESIS_HOOKS": "st_hooks",
        }
        report_dir = Path(tmp) / "report"
        # the provider logs the same accounts in again and again: no per-user session cap
        with gunicorn(instance, env={"FLASK_MAX_SESSIONS_PER_USER": "1000000"}) as base:
            command = [
                sys.executable, "-m", "schemathesis.cli", *COMMAND,
                "--report-dir", str(report_dir), *options, f"{base}/openapi.json",
            ]  # fmt: skip
            status = subprocess.call(command, cwd=ROOT, env=env)
        counts = requests_per_phase(report_dir)
        summary = ", ".join(f"{phase} {count}" for phase, count in counts.items())
        print(f"Requests per phase: {summary}; total {sum(counts.values())}")
    return status


if __name__ == "__main__":
    # a stopped run still stops its server (the context manager's `finally`)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(sys.argv[1:]))
