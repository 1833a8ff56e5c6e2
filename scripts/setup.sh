#!/usr/bin/env bash
# Installs what hourhand needs on a fresh Debian machine: system packages (PostgreSQL server
# for the tests), a virtualenv in .venv with hourhand and its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v initdb >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ "${HOURHAND_SETUP_APT:-1}" = 1 ] && [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" -m uv --version >/dev/null 2>&1; then
    "$PY" -m pip install -q --disable-pip-version-check uv
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m uv venv -q --python "$PY" .venv
fi
extras=${HOURHAND_EXTRAS:-test}
"$PY" -m uv pip install -q --python .venv/bin/python -e ".[${extras}]"
