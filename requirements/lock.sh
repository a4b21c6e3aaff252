#!/usr/bin/env bash
# Regenerate the hashed lock files from pyproject.toml (needs uv: `pip install uv`).
#   requirements/lock.sh              keep every pinned version that still fits pyproject.toml
#   requirements/lock.sh --upgrade    move every package to its newest allowed release
# Then run `tox` and commit pyproject.toml and requirements/*.lock together.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--quiet --generate-hashes --universal --python-version 3.11 --no-header "$@")
uv pip compile pyproject.toml "${common[@]}" -o requirements/main.lock
uv pip compile pyproject.toml --extra test "${common[@]}" -o requirements/test.lock
