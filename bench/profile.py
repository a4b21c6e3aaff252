"""``python -m bench.profile [PATH] [N]``: cProfile one route in-process (WSGI, no server).

Prints the functions with the most cumulative time over N requests (default
2000) to GET PATH (default /protected) with a seen access token; the evidence
for what a request spends its CPU on.
"""

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path


def main(path="/protected", count=2000, top=35):
    from api import create_app

    from .setup import PASSWORD, USERNAME, _user

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as workdir:
        instance = str(Path(workdir) / "instance")
        app = create_app({"INSTANCE_PATH": instance, "RATELIMIT_ENABLED": False})
        with app.app_context():
            from api.users import service as users

            _user(users)
        client = app.test_client()
        login = client.post("/auth/login", json={"username": USERNAME, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json['access_token']}"}
        for _ in range(200):
            assert client.get(path, headers=headers).status_code == 200
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            client.get(path, headers=headers)
        profiler.disable()
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
    stats = pstats.Stats(profiler)
    print(f"{path}: {stats.total_tt / count * 1e6:.0f} µs/request under cProfile")
    stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["/protected"]), *(int(a) for a in sys.argv[2:3]))
