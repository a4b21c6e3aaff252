"""A server under test (gunicorn sync, gunicorn gthread, granian), and its CPU and memory.

Our app runs under ``jwt-auth-api serve`` (its shipped settings, ``SERVER`` picks the
server) when the installed package has it; the seed app and the bare Flask floor run
under the same server started directly, with the same worker and thread counts.
"""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
SYNC, GTHREAD, GRANIAN = "gunicorn-sync", "gunicorn-gthread", "granian"
KINDS = (SYNC, GTHREAD, GRANIAN)
THREADS = 4  # threads per worker where the server has them, unless serve says otherwise


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def has_serve():
    """Whether this checkout ships ``jwt-auth-api serve`` (api.runtime)."""
    return importlib.util.find_spec("api.runtime") is not None


def serve_defaults(kind):
    """(workers, threads) that ``serve`` uses for ``kind`` with nothing set."""
    if has_serve():
        from api.runtime import settings

        workers = settings.default_workers(kind)
        threads = 1 if kind == SYNC else settings.DEFAULT_THREADS
        return workers, threads
    return 2, 1 if kind == SYNC else THREADS


def default_kind():
    if has_serve():
        from api.runtime import settings

        return settings.DEFAULT_SERVER
    return GRANIAN


def direct_command(kind, app, port, *, workers, threads, factory=False):
    """The command line that runs ``app`` (``module:attr``) under ``kind`` on 127.0.0.1."""
    if kind == GRANIAN:
        command = [
            str(BIN / "granian"), "--interface", "wsgi", "--http", "1", "--no-ws",
            "--workers", str(workers), "--blocking-threads", str(threads),
            "--backpressure", str(threads), "--respawn-failed-workers",
            "--no-access-log", "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        if factory:
            command.append("--factory")
        return [*command, app]
    command = [
        sys.executable, "-m", "gunicorn", f"{app}()" if factory else app,
        "--config", str(Path(__file__).parent / "gunicorn.conf.py"),
        "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
        "--graceful-timeout", "5", "--backlog", "2048",
    ]  # fmt: skip
    if kind == GTHREAD:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    return command


class Server:
    """One server process tree on 127.0.0.1 (``serve=True``: ``jwt-auth-api serve``)."""

    def __init__(self, name, app, *, kind, env, log_dir, factory=False, serve=False):
        self.name = name
        self.kind = kind
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = Path(log_dir) / f"server-{name}.log"
        self.workers, self.threads = serve_defaults(kind)
        env = {**os.environ, **env}
        if serve:
            command = [str(BIN / "jwt-auth-api"), "serve"]
            env.update({"SERVER": kind, "BIND": f"127.0.0.1:{self.port}"})
            env.pop("WEB_CONCURRENCY", None)
            env.pop("WEB_THREADS", None)
            # no worker recycling while measuring: a recycled worker takes its CPU time along
            env["GUNICORN_CMD_ARGS"] = "--max-requests 0"
        else:
            command = direct_command(
                kind, app, self.port, workers=self.workers, threads=self.threads, factory=factory
            )
        self.command = command
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: server exited:\n{self.log.read_text()}")
            if len(self.worker_pids()) >= self.workers and self.answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name}: not ready in {timeout}s:\n{self.log.read_text()}")

    def answers(self, path="/health", timeout=2):
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def tree(self):
        """Every process of the server: the main one and all its descendants."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(_children(pid))
        return found

    def worker_pids(self):
        """The worker processes: the main process's children, helpers left out."""
        return [pid for pid in _children(self.process.pid) if _is_worker(pid)]

    def cpu_seconds(self):
        """CPU time (user + system) of the whole process tree so far."""
        return sum(_cpu_seconds(pid) for pid in self.tree())

    def peak_rss_mb(self):
        """The largest peak resident set (VmHWM) among the workers, in MB."""
        return max((_peak_rss_kb(pid) for pid in self.worker_pids()), default=0) / 1024

    def rss_mb(self):
        """The largest resident set now (VmRSS) among the workers, in MB."""
        return max((_peak_rss_kb(pid, "VmRSS:") for pid in self.worker_pids()), default=0) / 1024

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in reversed(self.tree()):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.process.wait()


def _children(pid):
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return []
    children = []
    for task in tasks:
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return children


def _is_worker(pid):
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    return b"resource_tracker" not in cmdline and b"semaphore_tracker" not in cmdline


def _cpu_seconds(pid):
    """Scheduler CPU time of every thread of ``pid`` (ns precision), else /proc/pid/stat.

    A thread that ends between listing and reading is skipped (only its own time is
    lost); a process that is gone counts 0.
    """
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    total = 0
    try:
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended
        return total / 1e9
    except OSError:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICKS


def _peak_rss_kb(pid, field="VmHWM:"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0
