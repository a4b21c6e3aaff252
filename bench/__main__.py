"""``python -m bench [--quick] [--workers N] [--scaling]``: run the benchmark, print the table.

See README "Performance". Results go to bench/results/latest.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import load, report, suite

RESULTS = Path(__file__).parent / "results"


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 2)")
    parser.add_argument("--seconds", type=int, help="whole seconds per measurement (3, quick 1)")
    parser.add_argument("--connections", type=int, default=4, help="open connections (4)")
    parser.add_argument(
        "--scaling", action="store_true", help="also /health and /protected at 1, 2, 4 workers"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    options = suite.Options(
        workers=args.workers,
        rounds=args.rounds or (2 if args.quick else 5),
        seconds=args.seconds or (1 if args.quick else 3),
        connections=args.connections,
    )
    started = time.monotonic()
    print(f"load generator: {load.generator_name()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        results = suite.run(Path(workdir), options, scaling=args.scaling)
    results["generator"] = load.generator_name()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report.table(results))
    print(f"\nwritten: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
