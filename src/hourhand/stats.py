"""Job statistics kept as jobs finish: what the store's rollup table holds, as data.

Every state change that ends an attempt or a job adds to one row of ``hourhand_job_stats``
per (minute, queue, job type, shard), in the same transaction as the change, so counts
and rates never scan the jobs' history and survive its pruning (docs/architecture.md,
"Job statistics"). Durations go into non-cumulative buckets whose upper bounds are
``BUCKETS`` (a Prometheus histogram sums them up to each bound).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime

# Upper bounds of the duration buckets, in seconds (a duration equal to a bound is in its
# bucket, as Prometheus' "le" says). The SQL of both stores writes the same bounds
# (sql/<dialect>/queries.sql; tests/integration/test_rollup.py checks the edges).
BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, math.inf)


def bucket_of(duration: float) -> int:
    """The index in BUCKETS of the bucket a duration (seconds) falls in."""
    return bisect.bisect_left(BUCKETS, duration)


@dataclass(frozen=True)
class StatsTotal:
    """Everything counted for one (queue, job type), since the rollup began."""

    queue: str
    name: str  # the job type
    completed: int  # attempts that completed
    failed: int  # attempts that failed, timed out or were lost (retried or not)
    dead: int  # jobs that entered the failed state (the dead-letter set)
    cancelled: int  # jobs that ended cancelled
    duration_sum: float  # seconds, over the completed and failed attempts
    buckets: tuple[int, ...]  # attempts per duration bucket (BUCKETS), not cumulative

    @property
    def durations(self) -> int:
        """How many attempt durations are counted (the histogram's count)."""
        return sum(self.buckets)


@dataclass(frozen=True)
class StatsPoint:
    """One minute of the rollup, summed over shards (and over the queues and job types
    asked for)."""

    minute: datetime  # the minute's start, UTC
    completed: int
    failed: int
    dead: int
    cancelled: int
    duration_sum: float  # seconds
    durations: int  # how many durations duration_sum adds up


@dataclass(frozen=True)
class Stats:
    """What ``hh.stats()`` returns: a per-minute series and the totals."""

    since: datetime  # the series starts here (database clock)
    series: list[StatsPoint]  # oldest first; minutes with nothing counted are left out
    totals: list[StatsTotal]  # per (queue, job type), by queue then name
