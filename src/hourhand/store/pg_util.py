"""Small helpers of the PostgreSQL store shared by its modules (postgres.py and the mixins
pg_schedules.py and pg_stats.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hourhand.jobs import NewJob


def _utc(value: Any) -> datetime | None:
    return value  # type: ignore[no-any-return]  # timestamptz values load as UTC (_utc_times)


def _split(jobs: Sequence[NewJob]) -> tuple[list[int], list[int]]:
    """Positions of jobs that cannot conflict (one bulk statement) and of those that can,
    on a unique key or a fire time (inserted one by one)."""
    plain = [i for i, j in enumerate(jobs) if j.unique_key is None and j.schedule_id is None]
    keyed = [i for i, j in enumerate(jobs) if j.unique_key is not None or j.schedule_id is not None]
    return plain, keyed
