"""Where a worker's claims meet: one claim at a time, and the jobs taken on their way to
the event loop.

A worker claims from two places: its fetch loop (through its thread pool) and, for the
shortest pickup, straight from its listener thread when a notification says work is
ready (no hop to the event loop and back to a pool thread first: about a third of an idle
worker's pickup). Two claims at once could each see the same free slots and take twice as
many jobs as the worker has room for, so claims take turns, and the jobs a claim took
count against the room until the event loop has started them.

The turn is held across the database call, so it is only ever taken by threads, never by
the event loop; the loop only takes the jobs waiting for it, under a lock that no database
call holds. A claim's jobs are held (their leases kept by the worker's heartbeat thread) as
soon as the claim returns, before they wait for the loop: a loop that some handler blocks
can take a while to start them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from hourhand.jobs import Job
from hourhand.store.base import TypeClaim


class Claims:
    """One worker's claims: taken in turn, counted until started."""

    def __init__(
        self,
        capacity: Callable[[], int],
        open_: Callable[[], bool],
        hold: Callable[[Iterable[tuple[int, int]]], None],
    ) -> None:
        """``capacity()``: the free slots, not counting jobs claimed and not yet started
        (it is read from claiming threads: it must only read). ``open_()``: whether the
        worker still takes work. ``hold(pairs)``: keep the leases of (job, attempt) pairs
        (thread-safe)."""
        self._capacity = capacity
        self._open = open_
        self._hold = hold
        self._turn = threading.Lock()  # one claim at a time; held across the database call
        self._lock = threading.Lock()  # the jobs below; never held across a database call
        self._claimed: list[Job] = []  # claimed, not yet started by the event loop

    def free(self) -> int:
        with self._lock:
            return self._capacity() - len(self._claimed)

    def claim(self, take: Callable[[int], TypeClaim], room: int) -> TypeClaim:
        """In a thread: claim with ``take(n)`` up to ``room`` jobs, fewer if the worker has
        less room by now. The jobs wait for :meth:`start` on the event loop."""
        with self._turn:
            room = min(room, self.free())
            if room <= 0 or not self._open():
                return TypeClaim([])
            got = take(room)
            if got.jobs:
                self._hold((job.id, job.attempt) for job in got.jobs)
                with self._lock:
                    self._claimed.extend(got.jobs)
            return got

    def take_all(self) -> list[Job]:
        """The claimed jobs not started, taken out (a worker that will not start them)."""
        with self._lock:
            jobs, self._claimed = self._claimed, []
        return jobs

    def start(self, start: Callable[[list[Job]], None]) -> None:
        """On the event loop: start the claimed jobs (``start`` makes them count as
        running before they stop counting as claimed)."""
        with self._lock:
            jobs, self._claimed = self._claimed, []
            if jobs:
                start(jobs)

    @contextmanager
    def quiet(self) -> Iterator[list[int]]:
        """In a thread: no claim runs inside this block. Yields the ids of the jobs claimed
        and not yet started (the worker has them, though it holds no lease on them yet)."""
        with self._turn:
            with self._lock:
                claimed = [job.id for job in self._claimed]
            yield claimed
