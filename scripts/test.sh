#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, PostgreSQL) and runs lint, types and
# the whole suite. The tests start their own PostgreSQL server and stop it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && exec .venv/bin/pytest "$@"
