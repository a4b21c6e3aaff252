"""CPU time to issue one token pair (access + refresh, stored), per algorithm.

The password hash is not part of it: the user exists already. Measured in this
process with ``time.process_time`` over many pairs, after a warm-up.
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
            user = SimpleNamespace(id=found.id, roles=found.roles, username=found.username)
        spent = []
        for _ in range(2):  # warm-up pass, then the measured one
            start = time.process_time()
            for _ in range(pairs):
                with app.test_request_context():
                    service.issue_pair(user, fresh=True)
            spent.append(time.process_time() - start)
        results[algorithm] = round(spent[-1] / pairs * 1e6, 1)
    return results
