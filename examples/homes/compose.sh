#!/usr/bin/env bash
# The seed's docker-compose.yml on one machine: the API, and the worker with
# `deploy: replicas: 2`, all on one database. Each worker replica runs `hourhand serve
# --no-web` (a worker and a scheduler): fire-and-forget jobs are shared between them, and
# each recurring job fires once per fire time however many schedulers run (the seed's
# "distributed lock"). Ctrl-C (or SIGTERM) stops all three; workers drain first.
#
#   bash examples/homes/compose.sh                                   # SQLite: ./hourhand.db here
#   HOURHAND_DATABASE=postgresql://user@host/mujdomecek bash examples/homes/compose.sh
#   PORT=8080 REPLICAS=3 bash examples/homes/compose.sh
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
APP=examples.homes.app:hh

"$PYTHON" -m examples.homes.seed               # the schema, and data if there is none yet
"$PYTHON" -m hourhand --app "$APP" migrate      # once, before the replicas start

pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT INT TERM

# api: the web app (/hangfire, /health/jobs, /api/...), no worker, no scheduler
"$PYTHON" -m hourhand --app "$APP" serve --no-worker --no-scheduler --port "${PORT:-8000}" &
pids+=($!)
# worker: its replicas
for _ in $(seq "${REPLICAS:-2}"); do
    "$PYTHON" -m hourhand --app "$APP" serve --no-web &
    pids+=($!)
done
wait -n "${pids[@]}"                            # one stopped: stop the rest
