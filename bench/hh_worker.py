"""One hourhand worker process for the benchmark (ready/go protocol, see harness.py)."""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # this tree's

from harness import worker_ready_then_wait_go
from hh_jobs import build_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args()

    hh = build_app(args.url)
    hh.store  # noqa: B018  open and migrate now, before the clock starts
    worker = hh.worker(concurrency=args.concurrency, poll_interval=args.poll_interval)
    worker_ready_then_wait_go()
    try:
        worker.run(install_signals=True)
    finally:
        hh.close()
    stats = worker.stats
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the process's CPU, all its threads
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    print(
        json.dumps({"claimed": stats.claimed, "completed": stats.completed, "cpu_s": cpu}),
        flush=True,
    )


if __name__ == "__main__":
    main()
