#!/usr/bin/env bash
# Installs what hourhand needs on a fresh Debian machine into .venv; safe to run again.
#   scripts/setup.sh          hourhand itself
#   scripts/setup.sh --examples   plus what the examples need (the demo: fpdf2)
#   scripts/setup.sh --test   plus the test tools, a PostgreSQL server, PgBouncer and Chromium
#                             (from Debian; the browser tests drive /usr/bin/chromium through
#                             the playwright package: never `playwright install`)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [ "${1:-}" = "--examples" ]; then
    extras="[examples]"
fi
if [ "${1:-}" = "--test" ]; then
    extras="[test]"
    missing=()
    if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        missing+=(postgresql)
    fi
    if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
        missing+=(pgbouncer)
    fi
    if [ ! -x /usr/bin/chromium ]; then
        missing+=(chromium)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]} from Debian's packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

PY=${PYTHON:-python3}
if ! "$PY" -m uv --version >/dev/null 2>&1; then
    "$PY" -m pip install -q --disable-pip-version-check uv
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m uv venv -q --python "$PY" .venv
fi
"$PY" -m uv pip install -q --python .venv/bin/python -e ".${extras}"
