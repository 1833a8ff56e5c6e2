"""The ledger of fire times, the data: one entry per fire time of every schedule (table
``hourhand_schedule_fires``, migration 0009), and the manual runs made by ``trigger``.

The scheduler writes an entry for each fire time it deals with, in the transaction that
inserts the runs (``Store.fire_schedule``), so the ledger never disagrees with the jobs: a
fire time that made a run says which job; one that made none says why. When a run ends for
good (completed, failed, cancelled) the statement that ends it copies the outcome onto its
entry, so the ledger keeps the history after the jobs are pruned. ``docs/schedules.md``
("The ledger") explains each status with an example.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A run was made for the fire time (job_id: it): on time, or late by misfire 'all' or 'once'.
ENQUEUED = "enqueued"
# A run was made but waits behind the schedule's running run (overlap 'queue'); its due_at
# is set when that run ends and releases it.
HELD = "held"
# A run made by hand (``hh.schedules.trigger``, ``POST /v1/schedules/{id}/trigger``): the
# "fire time" is when it was triggered.
TRIGGERED = "triggered"
# Missed (no scheduler fired it within the grace: none ran, or it fell behind) and folded
# into one run: misfire 'once', or catch-up runs that an overlap policy other than 'allow'
# collapses to one. job_id: the run it was folded into.
MERGED = "merged"
# Missed, and misfire 'skip' does not catch up: nothing ran because no scheduler fired it in
# time.
SCHEDULER_DOWN = "scheduler_down"
# Missed, and misfire 'all' did not catch it up: older than the catch-up window, or beyond
# the cap of catch-up runs.
SKIPPED_MISFIRE = "skipped_misfire"
# Due, but the overlap policy dropped it: 'skip' while an earlier run waited or ran, 'queue'
# while one already waited.
SKIPPED_OVERLAP = "skipped_overlap"
# The schedule was disabled at that time (written when the scheduler first fires it after it
# was enabled again).
DISABLED = "disabled"
# The run could not be made (e.g. the scheduler's app does not define the job type): the
# scheduler's log says why, and the schedule moved on.
ERROR = "error"

RAN = frozenset({ENQUEUED, HELD, TRIGGERED})  # statuses whose entry has a run of its own
FIRE_STATUSES = (
    ENQUEUED,
    HELD,
    TRIGGERED,
    MERGED,
    SCHEDULER_DOWN,
    SKIPPED_MISFIRE,
    SKIPPED_OVERLAP,
    DISABLED,
    ERROR,
)
OUTCOMES = ("completed", "failed", "cancelled")  # how a run ended, copied onto its entry


@dataclass(frozen=True)
class NewFire:
    """An entry the scheduler writes with a fire (``Store.fire_schedule``)."""

    fire_time: datetime
    status: str  # one of FIRE_STATUSES
    due_at: datetime | None = None  # a run's run_at (fire time + jitter); None: no run yet
    # the fire time of the run this entry points to: its own for a run, the run it was
    # folded into for 'merged'; None: no job
    run: datetime | None = None
    unlisted: int = 0  # see FireRecord.unlisted


@dataclass(frozen=True)
class FireRecord:
    """One entry of a schedule's ledger."""

    schedule_id: int
    fire_time: datetime  # the cron fire time (for 'triggered': when it was triggered)
    status: str  # one of FIRE_STATUSES: what became of the fire time
    recorded_at: datetime  # when the scheduler wrote the entry (for a run: when enqueued)
    due_at: datetime | None  # when the run was due to start (fire time + jitter; a held
    # run: when the run before it ended); None without a run
    job_id: int | None  # the run's job (for 'merged': the run it was folded into)
    outcome: str | None  # completed | failed | cancelled: how the run last ended, copied
    # from the job as it ends (None: not ended yet, or no run)
    finished_at: datetime | None  # when it ended so
    # How many more fire times with this status, all earlier than this one and dealt with
    # in the same tick, have no entry of their own: one tick writes at most 100 entries of
    # fire times nothing ran for (a schedule every minute missed for weeks), and counts the
    # rest here. Usually 0.
    unlisted: int = 0

    @property
    def enqueued_at(self) -> datetime | None:
        """When the run was enqueued (None: the fire time made no run of its own)."""
        return self.recorded_at if self.status in RAN else None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "completed"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in {**self.__dict__, "enqueued_at": self.enqueued_at}.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out
