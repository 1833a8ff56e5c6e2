#!/usr/bin/env bash
# Sets up hourhand and runs the demo on SQLite (hourhand-demo.db in this folder).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hourhand demo --serve "$@"
