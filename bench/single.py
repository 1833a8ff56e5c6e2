"""Single enqueues: one ``hh.enqueue`` call per job, one after another, on each store.

    python bench/single.py [--jobs 5000] [--reps 2]

What a web request that enqueues one job pays. Each call commits before it returns (SQLite
at synchronous=FULL, PostgreSQL at its default durability), so the figure is mostly the
commit. Two job types: one whose handler is untyped, one whose parameters have type hints
(the enqueue checks the arguments against them). Reports jobs/s per store and type; reps
alternate the types so that a drift of the machine affects both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))  # this tree's hourhand

from tests.support.pgserver import PgServer  # noqa: E402

from hourhand import Hourhand, JobContext  # noqa: E402


def build(url: str) -> Hourhand:
    hh = Hourhand(url)

    @hh.job("plain")
    def plain(ctx, report_id, rows):  # type: ignore[no-untyped-def]
        return None

    @hh.job("typed")
    def typed(ctx: JobContext, report_id: str, rows: int) -> None:
        return None

    return hh


def run(url: str, name: str, n: int) -> float:
    hh = build(url)
    try:
        hh.store  # noqa: B018  open and migrate outside the clock
        hh.enqueue(name, {"report_id": "warm-up", "rows": 0})
        t0 = time.perf_counter()
        for i in range(n):
            hh.enqueue(name, {"report_id": f"r{i}", "rows": i})
        return n / (time.perf_counter() - t0)
    finally:
        hh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    server = PgServer(fast=False).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stores = {
                "sqlite": lambda rep: f"sqlite:///{tmp}/single-{rep}.db",
                "postgresql": lambda rep: server.create_database(f"single_{rep}"),
            }
            results: dict[tuple[str, str], list[float]] = {}
            for rep in range(args.reps):
                for store, url_of in stores.items():
                    url = url_of(rep)
                    for name in ("plain", "typed") if rep % 2 == 0 else ("typed", "plain"):
                        results.setdefault((store, name), []).append(run(url, name, args.jobs))
            print(f"single enqueues, {args.jobs} per run, {args.reps} reps (jobs/s)")
            for (store, name), rates in results.items():
                shown = ", ".join(f"{r:,.0f}" for r in rates)
                print(f"{store:<11} {name:<6} median {statistics.median(rates):>8,.0f}  ({shown})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
