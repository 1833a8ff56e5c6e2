"""What a worker may claim right now: queues an operator paused, and job types whose rate
limit is reached until a known time. The worker's fetch loop asks this gate before each
claim, so that it neither claims from a paused queue nor asks for a rate-limited type again
before its window frees (no polling while limited).

Claims themselves never take jobs of a paused queue (the store checks); the gate keeps the
worker from asking in vain and from reading past a paused queue's jobs. It learns of pauses
and resumes from the worker's watcher (a notification on PostgreSQL, the file's change
counter on SQLite) and, in case one went unnoticed, reads them again every PAUSED_REFRESH.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hourhand.store import Store

PAUSED_REFRESH = 2.0  # seconds between reads of the paused queues without a notice


class ClaimGate:
    """Paused queues and rate-limit waits, as one worker sees them (used on its loop)."""

    def __init__(self) -> None:
        self.paused: frozenset[str] = frozenset()
        self._read_at: float | None = None  # monotonic time of the last read; None: stale
        self._rate_waits: dict[str, float] = {}  # job type -> monotonic time a start frees

    # -- paused queues --------------------------------------------------------------------
    def queues_changed(self) -> None:
        """A queue was paused or resumed: read them again before the next claim."""
        self._read_at = None

    def must_read(self, now: float) -> bool:
        return self._read_at is None or now - self._read_at >= PAUSED_REFRESH

    def reading(self, now: float) -> None:
        """A read starts now (a change noticed during it makes the result stale again)."""
        self._read_at = now

    def read(self, paused: frozenset[str]) -> None:
        self.paused = paused

    async def claimable(
        self,
        call: Callable[[Callable[[], Any]], Awaitable[Any]],
        store: Store,
        served: Sequence[str] | None,
    ) -> list[str | None]:
        """The queues to claim from now (None: any queue): ``served`` less the paused ones,
        reading the paused queues first if they may have changed. ``call`` runs a blocking
        store call off the event loop."""
        now = time.monotonic()
        if self.must_read(now):
            self.reading(now)
            try:
                self.read(await call(store.paused_queues))
            except Exception:
                self.queues_changed()  # read them at the next try
                raise
        ready = await call(store.ready_queues) if served is None and self.paused else None
        return self.queues(served, ready)

    def queues(self, served: Sequence[str] | None, ready: Sequence[str] | None) -> list[str | None]:
        """The queues to claim from: ``served`` (None: every queue) less the paused ones.
        A worker serving every queue while some are paused claims queue by queue from the
        ``ready`` ones (queues holding queued jobs), so that no claim reads past the jobs of
        a paused queue."""
        if served is not None:
            return [q for q in served if q not in self.paused]
        if not self.paused:
            return [None]
        return [q for q in ready or () if q not in self.paused]

    # -- rate limits ----------------------------------------------------------------------
    def rate_limited(self, name: str, free_in: float | None, now: float) -> None:
        """A claim of ``name`` found its rate limit reached until ``free_in`` seconds on."""
        if free_in is None:
            self._rate_waits.pop(name, None)
        else:
            self._rate_waits[name] = now + free_in

    def waiting(self, name: str, now: float) -> bool:
        """Whether ``name`` waits on its rate limit (not to be claimed now)."""
        until = self._rate_waits.get(name)
        if until is None:
            return False
        if until <= now:
            del self._rate_waits[name]
            return False
        return True

    def next_free(self, now: float) -> float | None:
        """Seconds until the earliest rate-limit wait ends (None: no type waits)."""
        if not self._rate_waits:
            return None
        return max(0.0, min(self._rate_waits.values()) - now)
