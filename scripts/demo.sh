#!/usr/bin/env bash
# Sets up hourhand and runs the demo: examples/saas (seed 002) on SQLite, with its worker,
# scheduler, REST API and dashboard, and new work every few seconds. The database and the
# example's files stay in examples/saas (demo.db, storage/); delete them to start over.
#   bash scripts/demo.sh [--port 8000] [--host 127.0.0.1] [--database URL]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --examples
cd examples/saas
export PYTHONPATH="../..${PYTHONPATH:+:$PYTHONPATH}"
export HOURHAND_DATABASE="${HOURHAND_DATABASE:-sqlite:///demo.db}"
exec ../../.venv/bin/python -m examples.saas.demo "$@"
