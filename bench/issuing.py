"""CPU time to issue one token pair (access + refresh), per algorithm.

The password hash is not part of it: the user exists already. Measured in this
process with ``time.process_time`` over many pairs, after a warm-up: once as
login does it (the refresh token's record written and committed), and once with
a store that keeps nothing, which leaves the claims, signing and encoding.
"""

import secrets
import time
from types import SimpleNamespace

ALGORITHMS = ("EdDSA", "ES256", "HS256")
PAIRS = 300


def issue_cpu(workdir, pairs=PAIRS):
    from api import create_app
    from api.tokens import service

    from .setup import _user

    results = {}
    for algorithm in ALGORITHMS:
        config = {
            "INSTANCE_PATH": str(workdir / f"issue-{algorithm}" / "instance"),
            "JWT_ALGORITHM": algorithm,
            "RATELIMIT_ENABLED": False,
        }
        if algorithm.startswith("HS"):
            config["JWT_SECRET_KEY"] = secrets.token_urlsafe(48)
        app = create_app(config)
        with app.app_context():
            from api.users import service as users

            found = _user(users)
            # issue_pair reads only these; a plain object keeps ORM reloads out of the figure
            user = SimpleNamespace(
                id=found.id, roles=found.roles, username=found.username, token_epoch=0
            )
        stored = _per_pair(app, service, user, pairs)
        app.extensions["token_store"] = _NoStore()
        signed = _per_pair(app, service, user, pairs)
        results[algorithm] = {"signing_us": signed, "stored_us": stored}
    return results


class _NoStore:
    def create_session(self, *args):
        pass


def _per_pair(app, service, user, pairs):
    spent = []
    for _ in range(2):  # warm-up pass, then the measured one
        start = time.process_time()
        for _ in range(pairs):
            with app.test_request_context():
                service.issue_pair(user, fresh=True)
        spent.append(time.process_time() - start)
    return round(spent[-1] / pairs * 1e6, 1)
