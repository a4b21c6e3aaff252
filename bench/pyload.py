"""Fallback load generator (when wrk is missing): keep-alive connections in threads.

``python -m bench.pyload URL SECONDS CONNECTIONS``; ``BENCH_TOKEN``, ``BENCH_TOKENS``
(a file, one token per line) and ``BENCH_BODY`` (POST JSON) as for the wrk scripts.
Prints one JSON object (see :class:`bench.load.Load`).
"""

import http.client
import itertools
import json
import os
import sys
import threading
import time
from urllib.parse import urlsplit


def main(url, seconds, connections):
    parts = urlsplit(url)
    body = os.environ.get("BENCH_BODY")
    token = os.environ.get("BENCH_TOKEN")
    tokens = None
    if os.environ.get("BENCH_TOKENS"):
        with open(os.environ["BENCH_TOKENS"]) as lines:
            tokens = itertools.cycle([line.strip() for line in lines if line.strip()])
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine, failed = [], 0
        while time.perf_counter() < deadline:
            headers = {}
            with lock:
                bearer = next(tokens) if tokens else token
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            if body is not None:
                headers["Content-Type"] = "application/json"
            start = time.perf_counter()
            conn.request("POST" if body is not None else "GET", parts.path, body, headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            failed += not 200 <= response.status < 400
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    print(json.dumps({
        "requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": errors[0],
    }))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
