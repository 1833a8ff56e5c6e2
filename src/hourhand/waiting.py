"""Waiting for jobs to finish: ``hh.wait`` and ``hh.wait_async``.

One thread per app listens for jobs that end (LISTEN/NOTIFY on PostgreSQL; on SQLite, the
file's change counter, polled every few milliseconds) and then looks up every job waited for
in one query, so a thousand waiting callers cost one connection and one query per wake-up,
not a thousand. The thread starts with the first wait and ends when nobody has waited for a
while. A look-up also runs every SAFETY_POLL seconds, in case a notification was missed while
the listening connection was being re-established.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hourhand.jobs import FINAL_STATES, Job
from hourhand.store import Store

logger = logging.getLogger(__name__)

LISTEN_SLICE = 0.25  # seconds the thread waits for a notification before looking around
SAFETY_POLL = 1.0  # seconds between look-ups without a notification
IDLE_EXIT = 10.0  # seconds without waiters before the thread ends


@dataclass(eq=False)
class _Waiter:
    job_id: int
    event: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Job] | None = None
    job: Job | None = None  # the finished job (or the last seen, when the app closed)
    last: Job | None = None  # the job as it was when waiting began

    def finish(self, job: Job) -> None:
        self.job = job
        self.event.set()
        if self.loop is not None and self.future is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(_resolve, self.future, job)


def _resolve(future: asyncio.Future[Job], job: Job) -> None:
    if not future.done():
        future.set_result(job)


class Waiters:
    """The jobs an app's callers wait for, and the thread that watches them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._waiters: dict[int, list[_Waiter]] = {}
        self._added = threading.Event()  # new waiters: look them up at once
        self._thread: threading.Thread | None = None
        self._closed = False

    def wait(self, job_id: int, timeout: float, get: Callable[[int], Job]) -> Job:
        """Block until the job has finished or ``timeout`` seconds pass; the job as it is.
        ``get(job_id)`` looks the job up (and raises if there is none). The waiter is
        registered before that first look, so an end between the two is not missed."""
        waiter = _Waiter(job_id)
        self._add(waiter)
        try:
            job = get(job_id)
            if job.state in FINAL_STATES:
                return job
            waiter.last = job
            waiter.event.wait(timeout)
        finally:
            self._remove(waiter)
        return waiter.job if waiter.job is not None else self._latest(job)

    async def wait_async(self, job_id: int, timeout: float, get: Callable[[int], Job]) -> Job:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(job_id, loop=loop, future=loop.create_future())
        self._add(waiter)
        try:
            job = await asyncio.to_thread(get, job_id)
            if job.state in FINAL_STATES:
                return job
            waiter.last = job
            assert waiter.future is not None
            with contextlib.suppress(TimeoutError):
                done: Job = await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
                return done
        finally:
            self._remove(waiter)
        if waiter.job is not None:
            return waiter.job
        return await asyncio.to_thread(self._latest, job)

    def close(self) -> None:
        """Stop watching; whoever still waits gets the job as it was when waiting began."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            waiting = [w for ws in self._waiters.values() for w in ws]
        self._added.set()
        for waiter in waiting:
            if waiter.last is not None:
                waiter.finish(waiter.last)
        if thread is not None:
            thread.join(timeout=LISTEN_SLICE + 5)

    # -- internals --------------------------------------------------------------------------
    def _latest(self, job: Job) -> Job:
        found = self._store.get_job(job.id)
        return found if found is not None else job

    def _add(self, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters.setdefault(waiter.job_id, []).append(waiter)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="hourhand-wait", daemon=True)
                self._thread.start()
        self._added.set()

    def _remove(self, waiter: _Waiter) -> None:
        with self._lock:
            waiting = self._waiters.get(waiter.job_id, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self._waiters.pop(waiter.job_id, None)

    def _run(self) -> None:
        watcher = self._store.watch(finished=True)
        try:
            watcher.wait(0)  # listen before the first look-up: no end is missed after it
            idle_since: float | None = None
            last_look = 0.0
            while not self._closed:
                added = self._added.is_set()
                self._added.clear()  # before the ids are read: a later waiter sets it again
                with self._lock:
                    ids = list(self._waiters)
                if not ids:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > IDLE_EXIT:
                        with self._lock:
                            if not self._waiters:
                                self._thread = None
                                return
                    self._added.wait(LISTEN_SLICE)  # left set: the next turn looks
                    continue
                idle_since = None
                if added or time.monotonic() - last_look >= SAFETY_POLL:
                    woken = True
                else:
                    woken = watcher.wait(LISTEN_SLICE)
                if woken or self._added.is_set():
                    last_look = time.monotonic()
                    self._look(ids)
        except Exception:
            logger.exception("the thread waiting for jobs to finish failed")
            with self._lock:
                self._thread = None
        finally:
            watcher.close()

    def _look(self, ids: list[int]) -> None:
        try:
            jobs = self._store.get_jobs(ids)
        except Exception as exc:
            logger.warning("looking up waited-for jobs failed: %s", exc)
            return
        for job in jobs:
            if job.state not in FINAL_STATES:
                continue
            with self._lock:
                waiting = list(self._waiters.get(job.id, []))
            for waiter in waiting:
                waiter.finish(job)
