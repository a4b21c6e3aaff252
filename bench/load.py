"""The load generator, in its own process: wrk when installed, else a Python one.

Every run returns a :class:`Load`: completed requests, their rate, p50 and
p99 latency in ms, and how many answers were not 2xx.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK = shutil.which("wrk")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}

# A request per token from a file, in order (each token used once while they last).
_TOKENS_LUA = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  local token = tokens[((i - 1) % #tokens) + 1]
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. token})
end
"""
_POST_LUA = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def generator_name():
    if WRK:
        version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout
        return (version.strip().splitlines() or ["wrk"])[0].split(" [")[0]
    return "python (bench/pyload.py, http.client keep-alive threads)"


class Run:
    """One load run, started now; :meth:`result` waits for it."""

    def __init__(self, url, *, seconds, connections, token=None, tokens=None, body=None):
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-load-")
        env = dict(os.environ)
        if tokens:
            path = Path(self._tmp.name) / "tokens"
            path.write_text("\n".join(tokens) + "\n")
            env["BENCH_TOKENS"] = str(path)
        if body is not None:
            env["BENCH_BODY"] = json.dumps(body)
        if WRK:
            duration = f"-d{max(1, round(seconds))}s"
            command = [WRK, "-t1", f"-c{connections}", duration, "--latency", "-T10s"]
            if token:
                command += ["-H", f"Authorization: Bearer {token}"]
            script = _TOKENS_LUA if tokens else _POST_LUA if body is not None else None
            if script:
                path = Path(self._tmp.name) / "script.lua"
                path.write_text(script)
                command += ["-s", str(path)]
            command.append(url)
        else:
            command = [sys.executable, "-m", "bench.pyload", url, str(seconds), str(connections)]
            if token:
                env["BENCH_TOKEN"] = token
        self.seconds = seconds
        self._process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self):
        out, err = self._process.communicate(timeout=self.seconds + 60)
        self._tmp.cleanup()
        if self._process.returncode != 0:
            raise RuntimeError(f"load generator failed: {err or out}")
        return _parse_wrk(out) if WRK else Load(**json.loads(out))


def run(url, **kwargs):
    return Run(url, **kwargs).result()


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def _parse_wrk(out):
    requests, seconds = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1, 2)
    unit = re.search(r"\d+ requests in [\d.]+(\w+)", out).group(1)
    seconds = float(seconds) * _UNITS[unit] / 1e3
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Load(
        requests=int(requests),
        seconds=seconds,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        p99_ms=_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        errors=failed,
    )
