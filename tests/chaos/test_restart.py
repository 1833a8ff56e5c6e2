"""Chaos: PostgreSQL crashes and restarts (``pg_ctl restart -m immediate``) twice while an
enqueuer process enqueues continuously and two workers drain."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from hourhand import Hourhand
from tests.chaos.harness import Figures, Fleet, account, poll, store_of, verdict, wait_drained
from tests.conftest import subprocess_env
from tests.support.pgserver import PgServer

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

WORKERS = 2
CONCURRENCY = 10
LEASE = 10.0  # longer than an outage: a worker that lives through it keeps its jobs
RESTARTS = 2
PROGRESS = 100  # acknowledged enqueues required before the first and after each restart
PROGRESS_TIMEOUT = 30.0
DRAIN_TIMEOUT = 60.0
EXPECTED_ERROR = "hourhand.errors.DatabaseUnavailable"


class Enqueuer:
    """tests/chaos/enqueuer.py in a process of its own."""

    def __init__(self, url: str, folder: Path) -> None:
        self.acks = folder / "acks.txt"
        self.errors = folder / "enqueue-errors.txt"
        self.stop_file = folder / "stop-enqueuer"
        self.log = folder / "enqueuer.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.chaos.enqueuer",
                    str(self.acks),
                    str(self.errors),
                    str(self.stop_file),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=subprocess_env(HOURHAND_DATABASE=url),
            )

    def acked(self) -> list[int]:
        try:
            return [int(line) for line in self.acks.read_text().split()]
        except FileNotFoundError:
            return []

    def acked_at_least(self, n: int) -> bool:
        return len(self.acked()) >= n

    def error_kinds(self) -> Counter[str]:
        try:
            lines = self.errors.read_text().splitlines()
        except FileNotFoundError:
            return Counter()
        return Counter(line.split("\t", 1)[0] for line in lines)

    def first_errors(self) -> dict[str, str]:
        """The first message of each kind of error."""
        first: dict[str, str] = {}
        try:
            for line in self.errors.read_text().splitlines():
                kind, _, message = line.partition("\t")
                first.setdefault(kind, message)
        except FileNotFoundError:
            pass
        return first

    def stop(self, timeout: float = 40.0) -> int | None:
        """Ask it to stop; its exit code (None if it had to be killed)."""
        self.stop_file.touch()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def test_postgres_immediate_restarts_while_enqueueing_and_draining(
    chaos_pg: PgServer,
    chaos_pg_url: str,
    tmp_path: Path,
    apps: Callable[[str], Hourhand],
    record_figures: Callable[[Figures], None],
) -> None:
    url = chaos_pg_url
    figures = Figures("pg restart -m immediate x2", store_of(url))
    apps(url).counts()  # create the schema before anyone races for it
    fleet = Fleet(url, tmp_path, concurrency=CONCURRENCY, lease=LEASE)
    problems: list[str] = []
    restart_seconds: list[float] = []
    started = time.time()
    last_fault: float | None = None
    enqueuer: Enqueuer | None = None
    try:
        fleet.start(WORKERS)
        enqueuer = Enqueuer(url, tmp_path)
        ready = functools.partial(enqueuer.acked_at_least, PROGRESS)
        poll(ready, PROGRESS_TIMEOUT, "enqueues to begin", problems)
        view = apps(url)
        poll(lambda: view.counts()["completed"] >= PROGRESS // 2, 30, "workers to run", problems)
        for n in range(1, RESTARTS + 1):
            before = len(enqueuer.acked())
            t = time.monotonic()
            chaos_pg.restart("immediate")
            restart_seconds.append(time.monotonic() - t)
            last_fault = time.time()
            figures.faults += 1
            poll(
                functools.partial(enqueuer.acked_at_least, before + PROGRESS),
                PROGRESS_TIMEOUT,
                f"{PROGRESS} more acknowledged enqueues after restart {n}",
                problems,
            )
            fleet.check(replace=False)
        enqueuer_code = enqueuer.stop()
        acked = enqueuer.acked()
        # A fresh view: the test's own earlier connections died with the server.
        drained = wait_drained(apps(url), len(acked), DRAIN_TIMEOUT)
        fleet.check(replace=False)
        fleet.stop()
    except BaseException:
        fleet.kill_all()
        if enqueuer is not None and enqueuer.proc.poll() is None:
            enqueuer.proc.kill()
            enqueuer.proc.wait()
        raise

    kinds = enqueuer.error_kinds()
    figures.notes.append(
        f"restarts took {[round(s, 1) for s in restart_seconds]} s; {len(acked)} enqueues "
        f"acknowledged; enqueue errors seen: {dict(kinds) or 'none'}"
    )
    figures.problems += problems
    account(figures, apps(url), fleet, started=started, last_fault=last_fault, expected=acked)
    if not drained:
        figures.problems.append(f"the drain did not finish {DRAIN_TIMEOUT:.0f}s after the chaos")
    if enqueuer_code != 0:
        figures.problems.append(f"the enqueuer exited with {enqueuer_code}")
    unexpected = {k: n for k, n in kinds.items() if k != EXPECTED_ERROR}
    if unexpected:
        first = enqueuer.first_errors()
        figures.problems.append(
            f"enqueue raised {unexpected} where {EXPECTED_ERROR} was expected; first "
            f"messages: { {k: first[k] for k in unexpected} }"
        )
    record_figures(figures)

    assert not figures.problems, verdict(
        figures,
        fleet,
        "--- enqueuer log, last lines:",
        enqueuer.log_tail(),
        "--- PostgreSQL log, last lines:",
        chaos_pg.log_tail(),
    )
    assert figures.lost == 0
    assert figures.failed == 0
    assert figures.duplicates == 0
    assert figures.bad_exits == 0
    assert set(kinds) <= {EXPECTED_ERROR}
