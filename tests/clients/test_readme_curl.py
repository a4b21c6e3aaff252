"""README.md "Try it with curl", "Two-factor authentication", "OAuth 2" and "Sessions": every
block runs, in order, and prints what the README shows."""

import json
import os
import re
import shutil
import subprocess
from datetime import datetime

import pytest
from helpers import missing_tool
from live import ROOT, server

pytestmark = pytest.mark.live

SECTION = "## Try it with curl"
# each continues the state the ones before leave (users, sessions), on one server
SECTIONS = (SECTION, "## Two-factor authentication", "## OAuth 2", "## Sessions")
README_BASE = "http://127.0.0.1:5000"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
# "ACCESS=paste-the-access_token-here": the user copies that member of the last output;
# "X=paste-one-of-the-recovery_codes-here": an item of that list not pasted before
PASTE = re.compile(r"^(\w+)=paste-(the-(?:new-)?|one-of-the-)(\w+)-here$", re.M)
EPOCH_2020 = 1_577_836_800
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=.*$", re.M)


def walkthrough(section=SECTION):
    """The section's (command, shown output or None) pairs, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n{section}\n")
    end = text.find("\n## ", start + len(section))
    blocks = FENCE.findall(text[start : end if end > 0 else None])
    steps = []
    for language, body in blocks:
        if language == "sh":
            steps.append([body, None])
        else:
            assert steps and steps[-1][1] is None, f"output block without a command: {body}"
            steps[-1][1] = (language, body)
    return steps


def test_the_section_has_a_walkthrough():
    steps = walkthrough()
    commands = "".join(command for command, _ in steps)
    assert len(steps) >= 6
    for path in ("/auth/register", "/auth/login", "/protected", "/auth/refresh", "/auth/logout"):
        assert f"{README_BASE}{path}" in commands
    assert PASTE.search(commands)


def test_the_mfa_section_has_a_walkthrough():
    commands = "".join(command for command, _ in walkthrough(SECTIONS[1]))
    for path in ("/users/me/mfa/totp", "/users/me/mfa/totp/confirm", "/auth/mfa"):
        assert f"{README_BASE}{path}" in commands


def test_the_oauth_and_sessions_sections_have_walkthroughs():
    commands = "".join(command for command, _ in walkthrough("## OAuth 2"))
    for path in ("/.well-known/oauth-authorization-server", "/oauth/token", "/oauth/introspect",
                 "/oauth/revoke"):  # fmt: skip
        assert f"{README_BASE}{path}" in commands
    assert "flask --app api clients create" in commands
    commands = "".join(command for command, _ in walkthrough("## Sessions"))
    assert f"{README_BASE}/users/me/sessions" in commands


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory):
    """gunicorn, and the environment that points `flask --app api` at its data."""
    if shutil.which("curl") is None:
        missing_tool("curl is not installed (apt-get install curl)")
    with server(tmp_path_factory.mktemp("readme") / "instance") as running:
        yield running


def test_readme_curl_walkthrough(readme_server):
    env = {**os.environ, **readme_server.env}
    for section in SECTIONS:
        run(walkthrough(section), readme_server.base, env)


def run(steps, live_server, env):
    printed = {}  # members of the JSON outputs so far, as the user sees them on screen
    variables = []  # the shell variables set so far, as in the user's terminal
    pasted = set()
    for command, shown in steps:
        command = PASTE.sub(lambda match: paste(match, printed, pasted), command)
        command = command.replace(README_BASE, live_server)
        if shown is not None:
            shown = (shown[0], shown[1].replace(README_BASE, live_server))
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join([*variables, command])],
            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT, env=env,
        )  # fmt: skip
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        variables += ASSIGNMENT.findall(command)
        output = result.stdout
        if shown is None:
            assert output == "", command
            continue
        language, expected = shown
        if language == "json":
            actual = json.loads(output)
            assert_like(actual, json.loads(expected), command)
            for item in actual if isinstance(actual, list) else [actual]:
                if isinstance(item, dict):
                    printed.update(item)  # a list of objects: its last item's members win
            if isinstance(actual, dict):
                printed.update(actual)
        else:
            # the reason phrase is the server's choice (RFC 9112 §4: clients ignore it):
            # `flask run` prints "204 NO CONTENT", granian "204 No Content"
            lines = [line.rstrip("\r").lower() for line in output.splitlines()]
            for line in expected.splitlines():
                assert line.lower() in lines, f"{command}\nexpected line {line!r} in:\n{output}"


def paste(match, printed, pasted):
    """``NAME=value`` with the value the user copies from the previous output."""
    name, how, member = match.groups()
    assert member in printed, f"{match[0]}: no {member} printed before"
    value = printed[member]
    if how == "one-of-the-":
        value = next(item for item in value if item not in pasted)
        pasted.add(value)
    return f"{name}='{value}'"


def assert_like(actual, expected, where):
    """Same structure and values; tokens (shown cut, ``...``) and timestamps vary."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), where
        for key in expected:
            assert_like(actual[key], expected[key], f"{where} -> {key}")
    elif isinstance(expected, list) and expected and expected[-1] == "...":
        # ["a", "b", "..."]: a list of at least that many items like the ones shown
        assert isinstance(actual, list) and len(actual) >= len(expected) - 1, where
        assert all(type(item) is type(expected[0]) for item in actual), where
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (got, shown) in enumerate(zip(actual, expected, strict=True)):
            assert_like(got, shown, f"{where} -> [{index}]")
    elif isinstance(expected, int) and expected > EPOCH_2020:  # exp, iat, nbf: seconds
        assert isinstance(actual, int) and actual > EPOCH_2020, f"{where}: {actual!r}"
    elif isinstance(expected, str) and expected.endswith("..."):
        assert isinstance(actual, str), where
        assert actual.startswith(expected[:-3]), f"{where}: {actual!r} !~ {expected!r}"
    elif isinstance(expected, str) and _timestamp(expected):
        assert isinstance(actual, str), where
        assert _timestamp(actual), f"{where}: {actual!r} is not a timestamp"
    else:
        assert actual == expected, where


def _timestamp(value):
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False
