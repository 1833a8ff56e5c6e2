"""Recording how attempts ended: completions in batches, other ends one at a time.

The rules that keep a finished job from running again:

- until its outcome is recorded, a job stays held: its lease is heartbeated (see
  :mod:`hourhand.leases`) and it counts against the worker's capacity once many pile up;
- one bad item never fails its batch: a batch that fails for any reason but an unreachable
  database is recorded item by item, and an item the database refuses (a result it cannot
  store) ends its job as failed, with the reason;
- a batch is at most COMPLETE_BATCH items, so a backlog never makes one huge statement;
- while the database is unreachable, items wait and are tried again with backoff; when a
  try failed with the connection, the commit may have happened anyway, so an item found
  "no longer held" afterwards is looked up before it is called lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hourhand.errors import DatabaseRejected, DatabaseUnavailable
from hourhand.jobs import JobState, Outcome
from hourhand.leases import Leases, Pair
from hourhand.outage import Backoff, Outage, first_line
from hourhand.store import AttemptEnd, Completion, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMPLETE_BATCH = 500  # completions recorded per statement, at most
GIVE_UP_AFTER = 20  # tries of one item failing with an unexpected error (not an outage)


@dataclass
class WorkerStats:
    claimed: int = 0
    completed: int = 0
    failed: int = 0  # attempts that did not complete (retrying, failed, cancelled, ...)
    fenced: int = 0  # outcomes not recorded because the claim was lost
    abandoned: int = 0  # outcomes given up on (the lease expires; the job runs again)
    by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass
class _Item:
    record: Completion | AttemptEnd
    tries: int = 0
    uncertain: bool = False  # a try failed with the connection: it may have committed

    @property
    def pair(self) -> Pair:
        return (self.record.job_id, self.record.attempt)


class Recorder:
    """Records outcomes for one worker; :meth:`run` is a task on the worker's loop."""

    def __init__(
        self,
        store: Store,
        worker_id: str,
        call: Callable[[Callable[[], Any]], Awaitable[Any]],
        leases: Leases,
        stats: WorkerStats,
        on_recorded: Callable[[], None] = lambda: None,
        on_settled: Callable[[Completion | AttemptEnd, JobState | None], None] | None = None,
    ) -> None:
        self.store = store
        self._on_recorded = on_recorded  # room for more claims
        # each record once it is settled, with the job's new state (None: not recorded,
        # the job is no longer ours or we gave up): the hooks that follow an attempt
        self._on_settled = on_settled
        self.worker_id = worker_id
        self._call = call
        self._leases = leases
        self.stats = stats
        self._completions: deque[_Item] = deque()
        self._ends: deque[_Item] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._deadline = float("inf")
        self._outage = Outage("recording job outcomes", logger)
        self._backoff = Backoff()

    @property
    def pending(self) -> int:
        """Outcomes not recorded yet, including those being recorded right now."""
        return len(self._completions) + len(self._ends) + self._inflight

    def complete(self, completion: Completion) -> None:
        self._completions.append(_Item(completion))
        self._wake.set()

    def end(self, end: AttemptEnd) -> None:
        self._ends.append(_Item(end))
        self._wake.set()

    def close(self, timeout: float) -> None:
        """Record what is pending, trying for at most ``timeout`` seconds, then stop."""
        self._closing = True
        self._deadline = time.monotonic() + timeout
        self._wake.set()

    async def run(self) -> None:
        while True:
            if not self.pending:
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                healthy = await self._flush()
            except Exception as exc:  # a bug: keep recording the rest, never stop silently
                logger.exception("recording job outcomes failed unexpectedly")
                self._outage.failed(exc)
                healthy = False
            if healthy:
                self._outage.ok()
                self._backoff.reset()
                self._on_recorded()
                continue
            if self._closing and time.monotonic() >= self._deadline:
                self._give_up_all()
                return
            await asyncio.sleep(self._backoff.next())

    # -- one pass -------------------------------------------------------------------------
    async def _flush(self) -> bool:
        """Try what is pending once; False if something must be tried again later."""
        healthy = True
        if self._completions:
            count = min(COMPLETE_BATCH, len(self._completions))
            batch = [self._completions.popleft() for _ in range(count)]
            self._inflight = len(batch)
            try:
                healthy = await self._complete(batch)
            finally:
                self._inflight = 0
        while healthy and self._ends:
            self._inflight = 1
            try:
                healthy = await self._end(self._ends.popleft())
            finally:
                self._inflight = 0
        return healthy

    async def _complete(self, batch: list[_Item]) -> bool:
        completions: list[Any] = [item.record for item in batch]
        try:
            done = set(
                await self._call(
                    functools.partial(self.store.complete, self.worker_id, completions)
                )
            )
        except Exception as exc:
            return await self._complete_failed(batch, exc)
        await self._settle(batch, done)
        return True

    async def _complete_failed(self, batch: list[_Item], exc: Exception) -> bool:
        if isinstance(exc, DatabaseUnavailable):
            for item in batch:
                item.uncertain = True
            self._completions.extendleft(reversed(batch))
            self._outage.failed(exc)
            return False
        if len(batch) > 1:  # one bad item must not fail its batch
            logger.warning(
                "recording %d completions failed (%s); recording them one by one",
                len(batch),
                first_line(exc),
            )
            healthy = True
            for item in batch:
                healthy = await self._complete([item]) and healthy
            return healthy
        [item] = batch
        completion = item.record
        assert isinstance(completion, Completion)
        if isinstance(exc, DatabaseRejected):
            self.end(
                AttemptEnd(
                    job_id=completion.job_id,
                    attempt=completion.attempt,
                    worker_id=self.worker_id,
                    outcome=Outcome.FAILED,
                    new_state=JobState.FAILED,
                    error=f"result cannot be stored: {exc}",
                    duration=completion.duration,
                )
            )
            return True
        return self._retry_later(self._completions, item, exc)

    def _retry_later(self, queue: deque[_Item], item: _Item, exc: Exception) -> bool:
        item.tries += 1
        if item.tries >= GIVE_UP_AFTER:
            self._give_up([item], f"{item.tries} tries failed, the last with {first_line(exc)}")
        else:
            queue.appendleft(item)
        self._outage.failed(exc)
        return False

    async def _settle(self, batch: list[_Item], done: set[int]) -> None:
        missing = [item for item in batch if item.record.job_id not in done]
        uncertain = [item.pair for item in missing if item.uncertain]
        if uncertain:  # committed by a try whose reply was lost?
            try:
                done |= await self._call(
                    functools.partial(self.store.recorded, self.worker_id, uncertain, "completed")
                )
            except Exception as exc:
                logger.debug("could not check earlier completions: %s", first_line(exc))
        lost = sorted(item.record.job_id for item in missing if item.record.job_id not in done)
        self.stats.completed += len(batch) - len(lost)
        if lost:
            self.stats.fenced += len(lost)
            logger.warning(
                "completion not recorded for jobs %s: no longer held by this worker "
                "(the lease expired and the job was taken over)",
                lost,
            )
        self._leases.release(item.pair for item in batch)
        if self._on_settled is not None:
            for item in batch:
                done_here = item.record.job_id in done
                self._on_settled(item.record, JobState.COMPLETED if done_here else None)

    async def _end(self, item: _Item) -> bool:
        end = item.record
        assert isinstance(end, AttemptEnd)
        try:
            state = await self._call(functools.partial(self.store.end_attempt, end))
        except DatabaseUnavailable as exc:
            item.uncertain = True
            self._ends.appendleft(item)
            self._outage.failed(exc)
            return False
        except Exception as exc:
            return self._retry_later(self._ends, item, exc)
        if state is None and item.uncertain:  # committed by a try whose reply was lost?
            try:
                recorded = await self._call(
                    functools.partial(
                        self.store.recorded, self.worker_id, [item.pair], str(end.outcome)
                    )
                )
            except Exception as exc:  # ask again later; the end itself is in the database
                self._ends.appendleft(item)
                self._outage.failed(exc)
                return False
            if end.job_id in recorded:
                state = "recorded"
        self.stats.failed += end.outcome != Outcome.COMPLETED
        self.stats.by_outcome[end.outcome] = self.stats.by_outcome.get(end.outcome, 0) + 1
        if state is None:
            self.stats.fenced += 1
            logger.warning(
                "job %d attempt %d: %s not recorded, the job is no longer held by this worker",
                end.job_id,
                end.attempt,
                end.outcome,
            )
        else:
            logger.info("job %d attempt %d: %s -> %s", end.job_id, end.attempt, end.outcome, state)
        self._leases.release([item.pair])
        if self._on_settled is not None:  # "recorded": committed by a try whose reply was lost
            self._on_settled(end, end.new_state if state == "recorded" else state)
        return True

    # -- giving up ------------------------------------------------------------------------
    def _give_up(self, items: list[_Item], why: str) -> None:
        self.stats.abandoned += len(items)
        logger.error(
            "gave up recording the outcome of jobs %s (%s); their leases will expire and "
            "they will run again",
            sorted(item.record.job_id for item in items),
            why,
        )
        self._leases.release(item.pair for item in items)
        if self._on_settled is not None:
            for item in items:
                self._on_settled(item.record, None)

    def _give_up_all(self) -> None:
        items = [*self._completions, *self._ends]
        self._completions.clear()
        self._ends.clear()
        if items:
            self._give_up(items, "the worker is stopping and the database did not answer")
