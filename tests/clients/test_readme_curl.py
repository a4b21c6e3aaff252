"""README.md "Try it with curl": every block runs, in order, and prints what the README shows."""

import json
import re
import subprocess
from datetime import datetime

import pytest
from live import ROOT

pytestmark = pytest.mark.live

SECTION = "## Try it with curl"
README_BASE = "http://127.0.0.1:5000"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
# "ACCESS=paste-the-access_token-here": the user copies that member of the last output
PASTE = re.compile(r"^(\w+)=paste-the-(?:new-)?(\w+)-here$", re.M)
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=.*$", re.M)


def walkthrough():
    """The section's (command, shown output or None) pairs, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
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


def test_readme_curl_walkthrough(live_server):
    printed = {}  # members of the JSON outputs so far, as the user sees them on screen
    variables = []  # the shell variables set so far, as in the user's terminal
    for command, shown in walkthrough():
        command = PASTE.sub(lambda match: paste(match, printed), command)
        command = command.replace(README_BASE, live_server)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join([*variables, command])],
            capture_output=True, text=True, timeout=30, check=False,
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
            printed.update(actual)
        else:
            lines = [line.rstrip("\r") for line in output.splitlines()]
            for line in expected.splitlines():
                assert line in lines, f"{command}\nexpected line {line!r} in:\n{output}"


def paste(match, printed):
    """``NAME=value`` with the value the user copies from the previous output."""
    name, member = match.groups()
    assert member in printed, f"{match[0]}: no {member} printed before"
    return f"{name}='{printed[member]}'"


def assert_like(actual, expected, where):
    """Same structure and values; tokens (shown cut, ``...``) and timestamps vary."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), where
        for key in expected:
            assert_like(actual[key], expected[key], f"{where} -> {key}")
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
