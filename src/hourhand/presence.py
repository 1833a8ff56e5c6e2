"""Presence: a worker or scheduler process registers itself in ``hourhand_processes`` and
beats every few seconds, from a thread of its own, so that ``hourhand workers`` (and the
dashboard) can say which processes run, where, on which queues, how busy.

A beat is not a lease: nothing depends on it. A beat that fails (the database is down or
refuses writes) is logged once per outage and tried again at the next one; it never stops
or slows the process. A clean stop deletes the row; a process that dies leaves its row,
listed as dead once it has not beaten for ALIVE_WITHIN seconds, and schedulers delete rows
not seen for PRUNE_AFTER seconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hourhand.outage import Outage, first_line
from hourhand.store.records import ProcessInfo, Records

if TYPE_CHECKING:
    from hourhand.app import Hourhand
    from hourhand.scheduler import Scheduler
    from hourhand.worker import Worker

logger = logging.getLogger(__name__)

BEAT_INTERVAL = 5.0  # seconds between beats
ALIVE_WITHIN = 30.0  # seconds: a process not seen for longer is listed as dead
PRUNE_AFTER = 3600.0  # seconds: rows of processes not seen for this long are deleted
PRUNE_EVERY = 300.0  # seconds between a scheduler's prunes
STOP_WAIT = 1.0  # seconds a stop waits for the row's removal (a database that hangs: less)

Counts = Callable[[], tuple[int, int, int]]  # (running now, completed, failed)


def process_id() -> str:
    """An id for a process that has none of its own (a worker has: its worker id)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Presence:
    """One process's row in the registry, kept by a daemon thread from start to stop."""

    def __init__(
        self,
        app: Hourhand,
        kind: str,
        id: str,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
        counts: Counts | None = None,
        prune: bool = False,
        interval: float = BEAT_INTERVAL,
    ) -> None:
        self.app = app
        self.kind = kind
        self.id = id
        self.queues = None if queues is None else tuple(queues)
        self.concurrency = concurrency
        self.counts = counts
        self.prune = prune  # also delete the rows of processes long gone
        self.interval = interval
        self._records: Records | None = None  # the open store's, taken at start
        self._next_prune = 0.0  # (monotonic) a scheduler prunes when it starts, then now and then
        self._stop = threading.Event()
        self._outage = Outage(f"registering this {kind} (hourhand workers)", logger)
        self._thread = threading.Thread(target=self._run, name="hourhand-presence", daemon=True)

    @classmethod
    def of_worker(cls, worker: Worker) -> Presence:
        def counts() -> tuple[int, int, int]:
            stats = worker.stats
            return len(worker._runs), stats.completed, stats.failed

        return cls(
            worker.app,
            "worker",
            worker.id,
            queues=worker.queues,
            concurrency=worker.concurrency,
            counts=counts,
        )

    @classmethod
    def of_scheduler(cls, scheduler: Scheduler) -> Presence:
        return cls(scheduler.app, "scheduler", process_id(), prune=True)

    def start(self) -> Presence:
        # The store is open by now: the thread never opens one (nor reopens a closed one).
        self._records = self.app.store.records
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and delete the row (waiting at most STOP_WAIT seconds for it)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT)

    def info(self) -> ProcessInfo:
        from hourhand import __version__  # (hourhand imports the worker, which imports this)

        running, completed, failed = self.counts() if self.counts is not None else (0, 0, 0)
        return ProcessInfo(
            id=self.id,
            kind=self.kind,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=self.queues,
            concurrency=self.concurrency,
            running=running,
            completed=completed,
            failed=failed,
            version=__version__,
        )

    def beat(self) -> None:
        """One beat (and, for a scheduler, a prune when one is due); raises what fails."""
        records = self._records or self.app.store.records
        records.beat(self.info())
        if self.prune and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            pruned = records.prune_processes(PRUNE_AFTER)
            if pruned:
                logger.info("removed %d process(es) not seen for %.0fs", pruned, PRUNE_AFTER)

    def _run(self) -> None:
        while True:
            try:
                self.beat()
            except Exception as exc:
                self._outage.failed(exc)
            else:
                self._outage.ok()
            if self._stop.wait(self.interval):
                break
        try:
            assert self._records is not None
            self._records.remove_process(self.id)
        except Exception as exc:
            logger.debug("could not remove this %s's row: %s", self.kind, first_line(exc))
