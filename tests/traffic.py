"""Session traffic from threads against a live server, every answer recorded.

Each thread repeats one session: log in, call ``/protected``, refresh, call it
with the new token, log out, call it again with the logged-out token. A step
that does not succeed starts the session over. What the fault tests need is
kept: every answer (when it was asked and answered), every logout the server
acknowledged, and when each kind of operation first succeeded after an event.
"""

import threading
import time
import urllib.error
from collections import Counter
from dataclasses import dataclass

from live import call

OPERATIONS = ("login", "protected", "refresh", "logout")


@dataclass(frozen=True)
class Answer:
    operation: str
    status: int  # 0: no HTTP answer at all (connection refused, timeout)
    asked: float  # time.monotonic() when the request was sent
    answered: float
    retry_after: str | None


@dataclass(frozen=True)
class Revoked:
    """A logout the server acknowledged (204), and the tokens it revoked."""

    acknowledged: float
    access_token: str
    refresh_token: str


class Traffic:
    def __init__(self, base, usernames, password):
        self.base = base
        self.password = password
        self.usernames = list(usernames)
        self.answers = []
        self.revoked = []
        self.sessions = 0  # completed sessions
        self.leaks = []  # a logged-out access token that still worked (must stay empty)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def __enter__(self):
        for username in self.usernames:
            thread = threading.Thread(target=self._run, args=(username,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _ask(self, operation, method, path, body=None, token=None):
        asked = time.monotonic()
        try:
            status, headers, answer = call(self.base, method, path, body, token, timeout=30)
            retry_after = headers.get("Retry-After")
        except (urllib.error.URLError, OSError):
            status, answer, retry_after = 0, None, None
        with self._lock:
            self.answers.append(Answer(operation, status, asked, time.monotonic(), retry_after))
        if status == 503:
            self._stop.wait(0.02)  # pace the retries of a refused client a little
        return status, answer

    def _run(self, username):
        credentials = {"username": username, "password": self.password}
        while not self._stop.is_set():
            status, pair = self._ask("login", "POST", "/auth/login", credentials)
            if status != 200:
                continue
            if self._ask("protected", "GET", "/protected", token=pair["access_token"])[0] != 200:
                continue
            refresh = pair["refresh_token"]
            status, pair = self._ask("refresh", "POST", "/auth/refresh", token=refresh)
            if status != 200:
                continue
            if self._ask("protected", "GET", "/protected", token=pair["access_token"])[0] != 200:
                continue
            if self._ask("logout", "POST", "/auth/logout", token=pair["access_token"])[0] != 204:
                continue
            with self._lock:
                self.revoked.append(
                    Revoked(time.monotonic(), pair["access_token"], pair["refresh_token"])
                )
            status, _ = self._ask("revoked", "GET", "/protected", token=pair["access_token"])
            with self._lock:
                if status == 200:
                    self.leaks.append(pair["access_token"])
                self.sessions += 1

    def wait_sessions(self, more, timeout):
        """Wait until ``more`` further sessions have completed."""
        target = self.sessions + more
        deadline = time.monotonic() + timeout
        while self.sessions < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target - self.sessions} sessions short after {timeout}s")
            self._stop.wait(0.05)

    def snapshot(self):
        with self._lock:
            return list(self.answers)

    def recovery(self, since):
        """Seconds from ``since`` to the first success of each operation asked after it."""
        first = {}
        for answer in self.snapshot():
            ok = answer.status in (200, 204)
            if ok and answer.asked >= since and answer.operation in OPERATIONS:
                seconds = answer.answered - since
                first[answer.operation] = min(first.get(answer.operation, seconds), seconds)
        return first

    def statuses(self, since=None):
        """Counter of (operation, status) of the answers to requests asked after ``since``."""
        return Counter(
            (answer.operation, answer.status)
            for answer in self.snapshot()
            if since is None or answer.asked >= since
        )

    def bad_answers(self):
        """Answers a fault may never cause: another 5xx, no answer, a 503 without Retry-After."""
        return [
            answer
            for answer in self.snapshot()
            if answer.status == 0
            or (answer.status >= 500 and answer.status != 503)
            or (answer.status == 503 and not answer.retry_after)
        ]
