"""``python -m bench [--quick] [--servers ...]``: run the benchmark, print the tables.

See README "Performance". Results go to bench/results/latest.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import load, report, suite
from .server import KINDS

RESULTS = Path(__file__).parent / "results"


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (a few minutes)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 2)")
    parser.add_argument("--seconds", type=int, help="whole seconds per measurement (3, quick 1)")
    parser.add_argument("--connections", type=int, default=4, help="open connections (4)")
    parser.add_argument(
        "--servers", nargs="+", choices=KINDS, default=list(KINDS), help="servers to measure"
    )
    parser.add_argument("--no-stores", action="store_true", help="skip Redis/PostgreSQL variants")
    parser.add_argument("--no-faults", action="store_true", help="skip the fault checks")
    parser.add_argument("--no-issuing", action="store_true", help="skip token issuing CPU")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    options = suite.Options(
        rounds=args.rounds or (2 if args.quick else 5),
        seconds=args.seconds or (1 if args.quick else 3),
        connections=args.connections,
        servers=args.servers,
        stores=not args.no_stores,
        faults=not args.no_faults,
        issuing=not args.no_issuing,
    )
    started = time.monotonic()
    print(f"load generator: {load.generator_name()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        results = suite.run(Path(workdir), options)
    results["generator"] = load.generator_name()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report.table(results))
    print(f"\nwritten: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
