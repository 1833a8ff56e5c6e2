"""Jobs made from database rows are the same as jobs made the ordinary way."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from hourhand.jobs import Job, JobState
from hourhand.store.rows import decode_job

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ROW = {
    "id": 7, "queue": "default", "name": "noop", "args": {"n": 1}, "state": "running",
    "priority": 0, "attempt": 1, "max_attempts": 5, "run_at": NOW, "timeout": None,
    "unique_key": None, "org_id": "org_1", "created_by": None, "schedule_id": None,
    "fire_time": None, "progress": None, "progress_message": None, "result": None,
    "error": None, "worker_id": "w", "lease_expires_at": NOW, "cancel_requested": 0,
    "handbacks": 0, "created_at": NOW, "started_at": NOW, "finished_at": None,
}  # fmt: skip


def test_a_job_from_a_row_equals_one_made_by_its_constructor() -> None:
    fast = decode_job(ROW, lambda t: t, lambda j: j)
    values = {**ROW, "state": JobState.RUNNING, "cancel_requested": False}
    slow = Job(**values)
    assert fast == slow and repr(fast) == repr(slow)
    assert list(fast.__dict__) == [f.name for f in dataclasses.fields(Job)]  # every field
    assert fast.to_dict() == slow.to_dict()
    assert dataclasses.replace(fast, attempt=2).attempt == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.attempt = 3  # type: ignore[misc]
