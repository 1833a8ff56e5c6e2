"""Keeping a worker's leases, from threads that handlers cannot block.

A worker's claims last ``lease`` seconds unless heartbeated. The heartbeats used to run on
the worker's event loop, so an ``async def`` handler that called blocking code (a
``time.sleep``, a synchronous HTTP call) stopped them, the lease expired and another worker
ran the job a second time while the first was still running it. Now:

- :class:`Leases` is one thread per worker, with a database connection of its own, that
  extends the lease of every job the worker holds: running ones, and finished ones whose
  outcome is still waiting to be recorded. It reports jobs whose claim was lost and jobs
  whose cancellation was requested back to the event loop.
- :class:`LoopWatchdog` is a thread that notices when the event loop stops turning and logs
  which job's handler is blocking it, and for how long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hourhand.errors import DatabaseUnavailable
from hourhand.outage import Outage

if TYPE_CHECKING:
    from hourhand.store import Store

logger = logging.getLogger(__name__)

HEARTBEAT_BATCH = 1000  # leases extended per statement
WATCHDOG_TICK = 0.1  # seconds between the loop's "still turning" marks
LOOP_BLOCK_WARNING = 1.0  # seconds the loop may stand still before the watchdog says so

Pair = tuple[int, int]  # (job id, attempt)


class Leases:
    """Heartbeats the (job id, attempt) pairs a worker holds, every ``lease / 3`` seconds."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        lease: float,
        *,
        on_lost: Callable[[list[Pair]], None],
        on_cancel: Callable[[list[Pair]], None],
    ) -> None:
        self._store = store
        self.worker_id = worker_id
        self.lease = lease
        self.interval = lease / 3
        self._on_lost = on_lost
        self._on_cancel = on_cancel
        self._held: set[Pair] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._outage = Outage("heartbeats", logger)
        self._thread = threading.Thread(target=self._run, name="hourhand-leases", daemon=True)
        self.beats = 0  # statements run, for tests and diagnostics

    # -- what is held (any thread) --------------------------------------------------------
    def hold(self, pairs: Iterable[Pair]) -> None:
        with self._lock:
            self._held.update(pairs)

    def release(self, pairs: Iterable[Pair]) -> None:
        with self._lock:
            self._held.difference_update(pairs)

    def held(self) -> list[Pair]:
        with self._lock:
            return list(self._held)

    def holds(self, pair: Pair) -> bool:
        with self._lock:
            return pair in self._held

    # -- the thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 15)

    def _run(self) -> None:
        store: Store | None = None
        try:
            while not self._stop.wait(self.interval):
                held = self.held()
                if not held:
                    continue
                try:
                    if store is None:  # a heartbeat never waits longer than its interval
                        store = self._store.private(statement_timeout=self.interval)
                    self._beat(store, held)
                except Exception as exc:
                    self._outage.failed(exc)
                    if isinstance(exc, DatabaseUnavailable) and store is not None:
                        store.close()  # start again from a fresh connection
                        store = None
                else:
                    self._outage.ok()
        finally:
            if store is not None:
                store.close()

    def _beat(self, store: Store, held: list[Pair]) -> None:
        """Heartbeat every chunk (one failing does not skip the others), then report; the
        first error, if any, is raised at the end."""
        lost: list[Pair] = []
        cancel: list[Pair] = []
        error: Exception | None = None
        held.sort()
        for start in range(0, len(held), HEARTBEAT_BATCH):
            chunk = held[start : start + HEARTBEAT_BATCH]
            try:
                result = store.heartbeat(self.worker_id, chunk, self.lease)
            except Exception as exc:
                error = error or exc
                continue
            self.beats += 1
            for pair in chunk:
                if pair not in result.alive:
                    lost.append(pair)
                elif pair in result.cancel_requested:
                    cancel.append(pair)
        lost = [pair for pair in lost if self.holds(pair)]  # not just recorded meanwhile
        if lost:
            self._on_lost(lost)
        if cancel:
            self._on_cancel(cancel)
        if error is not None:
            raise error


class LoopWatchdog:
    """Logs when the event loop stands still longer than LOOP_BLOCK_WARNING, naming the
    task that holds it (a job's handler doing blocking work), and when it turns again."""

    def __init__(self, loop: asyncio.AbstractEventLoop, describe: Callable[[str], str]) -> None:
        self._loop = loop
        self._describe = describe
        self._mark = time.monotonic()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self.blocker: str | None = None  # the name of the task blocking the loop right now
        self._thread = threading.Thread(target=self._run, name="hourhand-watchdog", daemon=True)

    def start(self) -> None:
        self._tick()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        self._thread.join(timeout=5)

    def stalled(self) -> float:
        """Seconds since the loop last turned (on the loop: how long this step has run)."""
        return time.monotonic() - self._mark

    def _tick(self) -> None:  # on the loop
        self._mark = time.monotonic()
        if not self._stop.is_set():
            self._handle = self._loop.call_later(WATCHDOG_TICK, self._tick)

    def _run(self) -> None:
        started = 0.0
        while not self._stop.wait(WATCHDOG_TICK):
            stalled = time.monotonic() - self._mark
            if stalled >= LOOP_BLOCK_WARNING and self.blocker is None:
                task = None
                with contextlib.suppress(RuntimeError):
                    task = asyncio.current_task(self._loop)
                started = self._mark
                self.blocker = task.get_name() if task is not None else "(no task)"
                logger.warning(
                    "the event loop has not turned for %.1fs: %s is running blocking code on "
                    "it (heartbeats go on; use a sync handler or asyncio.to_thread)",
                    stalled,
                    self._describe(self.blocker),
                )
            elif self.blocker is not None and stalled < LOOP_BLOCK_WARNING:
                logger.warning(
                    "the event loop turns again: %s blocked it for %.1fs",
                    self._describe(self.blocker),
                    self._mark - started,
                )
                self.blocker = None
