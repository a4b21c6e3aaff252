"""A gunicorn server under test, and the CPU and memory of its worker processes."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``gunicorn <app>`` with ``workers`` sync workers on 127.0.0.1."""

    def __init__(self, name, app, *, workers, env, log_dir):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = Path(log_dir) / f"gunicorn-{name}.log"
        command = [
            sys.executable, "-m", "gunicorn", app,
            "--config", str(Path(__file__).parent / "gunicorn.conf.py"),
            "--workers", str(workers),
            "--bind", f"127.0.0.1:{self.port}",
            "--graceful-timeout", "5",
            "--backlog", "2048",
        ]  # fmt: skip
        self.workers = workers
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited:\n{self.log.read_text()}")
            if len(self.worker_pids()) == self.workers:
                try:
                    with urllib.request.urlopen(self.base + "/health", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name}: not ready in {timeout}s:\n{self.log.read_text()}")

    def worker_pids(self):
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        return [int(child) for child in children]

    def cpu_seconds(self):
        """CPU time (user + system) of all worker processes so far."""
        return sum(_cpu_seconds(pid) for pid in self.worker_pids())

    def peak_rss_mb(self):
        """The largest peak resident set (VmHWM) among the workers, in MB."""
        return max((_peak_rss_kb(pid) for pid in self.worker_pids()), default=0) / 1024

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _cpu_seconds(pid):
    """Scheduler CPU time of every thread of ``pid`` (ns precision), else /proc/pid/stat."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    except OSError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS


def _peak_rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0
