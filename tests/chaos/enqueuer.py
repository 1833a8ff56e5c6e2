"""An enqueuer process for the chaos tests: enqueues ``chaos:work`` jobs one at a time until
a stop file appears, retrying whatever fails.

Usage: ``python -m tests.chaos.enqueuer ACKS ERRORS STOP`` (database from HOURHAND_DATABASE).
Each job id whose ``enqueue`` returned is appended to ACKS (one per line) before the next
enqueue starts; each exception is appended to ERRORS as ``module.Type<TAB>message``.
"""

from __future__ import annotations

import os
import sys
import time

from tests.chaos.app import hh

PACE = 0.01  # seconds between enqueues
ERROR_PAUSE = 0.05  # seconds before retrying after an error


def append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def main(acks_path: str, errors_path: str, stop_path: str) -> int:
    acks, errors = append(acks_path), append(errors_path)
    while not os.path.exists(stop_path):
        try:
            job_id = hh.enqueue("chaos:work", {"ms": 20})
        except Exception as exc:
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            os.write(errors, f"{kind}\t{first}\n".encode())
            time.sleep(ERROR_PAUSE)
            continue
        os.write(acks, f"{job_id}\n".encode())
        time.sleep(PACE)
    hh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
