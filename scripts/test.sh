#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, PostgreSQL) and runs lint, types and
# the whole suite. The tests start their own PostgreSQL server and stop it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
# Two test processes (pytest-xdist), each with its own PostgreSQL server and PgBouncer, a
# module per process at a time (--dist loadfile: a module's fixtures stay together);
# HOURHAND_TEST_PROCESSES=1 runs it in one.
workers=${HOURHAND_TEST_PROCESSES:-2}
echo "== pytest ($workers processes)" && exec .venv/bin/pytest -n "$workers" --dist loadfile "$@"
