"""Row decoding shared by the dialects: database rows to jobs, attempts, schedules, ledger
entries and statistics, and the encoding of times and JSON each dialect reads and writes
with."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hourhand.jobs import Attempt, Job, JobState, Outcome
from hourhand.schedule_model import Schedule, ScheduleSpec
from hourhand.stats import BUCKETS, StatsPoint, StatsTotal
from hourhand.store.base import SCHEDULE_COLUMNS
from hourhand.store.fires import FireRecord

TimeDecoder = Callable[[Any], datetime | None]
JsonDecoder = Callable[[Any], Any]


def decode_job(row: dict[str, Any], t: TimeDecoder, j: JsonDecoder) -> Job:
    run_at = t(row["run_at"])
    created_at = t(row["created_at"])
    assert run_at is not None and created_at is not None
    return Job.from_row(
        id=row["id"],
        queue=row["queue"],
        name=row["name"],
        args=j(row["args"]) or {},
        state=JobState(row["state"]),
        priority=row["priority"],
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        run_at=run_at,
        timeout=row["timeout"],
        unique_key=row["unique_key"],
        org_id=row["org_id"],
        created_by=row["created_by"],
        schedule_id=row["schedule_id"],
        fire_time=t(row["fire_time"]),
        progress=row["progress"],
        progress_message=row["progress_message"],
        result=j(row["result"]),
        error=row["error"],
        worker_id=row["worker_id"],
        lease_expires_at=t(row["lease_expires_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        handbacks=row["handbacks"],
        created_at=created_at,
        started_at=t(row["started_at"]),
        finished_at=t(row["finished_at"]),
    )


def decode_claimed(row: Sequence[Any], t: TimeDecoder, j: JsonDecoder) -> Job:
    """A job just claimed, from the claim statements' columns (a tuple, in the order of
    their RETURNING lists). What a claim sets to a constant, or finds unset in any queued
    job (the result and finish time: only finished jobs have them, and a retry clears the
    finish time), is not sent back; a busy worker decodes one of these per job."""
    (
        id_,
        queue,
        name,
        args,
        priority,
        attempt,
        max_attempts,
        run_at,
        timeout,
        unique_key,
        org_id,
        created_by,
        schedule_id,
        fire_time,
        error,
        worker_id,
        lease_expires_at,
        handbacks,
        created_at,
        started_at,
    ) = row
    return Job.from_dict(
        {
            "id": id_,
            "queue": queue,
            "name": name,
            "args": j(args) or {},
            "state": JobState.RUNNING,
            "priority": priority,
            "attempt": attempt,
            "max_attempts": max_attempts,
            "run_at": t(run_at),
            "timeout": timeout,
            "unique_key": unique_key,
            "org_id": org_id,
            "created_by": created_by,
            "schedule_id": schedule_id,
            "fire_time": None if fire_time is None else t(fire_time),
            "progress": None,
            "progress_message": None,
            "result": None,
            "error": error,
            "worker_id": worker_id,
            "lease_expires_at": t(lease_expires_at),
            "cancel_requested": False,
            "handbacks": handbacks,
            "created_at": t(created_at),
            "started_at": t(started_at),
            "finished_at": None,
        }
    )


def decode_total(row: dict[str, Any]) -> StatsTotal:
    """A row of stats_totals (either dialect)."""
    return StatsTotal(
        queue=row["queue"],
        name=row["name"],
        completed=int(row["completed"]),
        failed=int(row["failed"]),
        dead=int(row["dead"]),
        cancelled=int(row["cancelled"]),
        duration_sum=float(row["duration_sum"]),
        buckets=tuple(int(row[f"b{i}"]) for i in range(len(BUCKETS))),
    )


def decode_point(row: dict[str, Any], t: TimeDecoder) -> StatsPoint:
    """A row of stats_series (either dialect)."""
    minute = t(row["minute"])
    assert minute is not None
    return StatsPoint(
        minute=minute,
        completed=int(row["completed"]),
        failed=int(row["failed"]),
        dead=int(row["dead"]),
        cancelled=int(row["cancelled"]),
        duration_sum=float(row["duration_sum"]),
        durations=int(row["durations"]),
    )


def decode_attempt(row: dict[str, Any], t: TimeDecoder) -> Attempt:
    finished_at = t(row["finished_at"])
    assert finished_at is not None
    return Attempt(
        id=row["id"],
        job_id=row["job_id"],
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        started_at=t(row["started_at"]),
        finished_at=finished_at,
        outcome=Outcome(row["outcome"]),
        duration=row["duration"],
        error=row["error"],
        traceback=row["traceback"],
    )


def decode_schedule(row: dict[str, Any], t: TimeDecoder, j: JsonDecoder) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        org_id=row["org_id"],
        source=row["source"],
        job=row["job"],
        args=j(row["args"]) or {},
        cron=row["cron"],
        tz=row["tz"],
        enabled=bool(row["enabled"]),
        queue=row["queue"],
        priority=row["priority"],
        max_attempts=row["max_attempts"],
        timeout=row["timeout"],
        misfire=row["misfire"],
        misfire_cap=row["misfire_cap"],
        catchup_window=row["catchup_window"],
        overlap=row["overlap"],
        jitter=row["jitter"],
        created_by=row["created_by"],
        next_fire_at=t(row["next_fire_at"]),
        last_fire_at=t(row["last_fire_at"]),
        last_job_id=row["last_job_id"],
        last_status=row["last_status"],
        last_duration=row["last_duration"],
        created_at=t(row["created_at"]),
        updated_at=t(row["updated_at"]),
        defined_enabled=bool(row["defined_enabled"]),
        enabled_override=None if row["enabled_override"] is None else bool(row["enabled_override"]),
        disabled_at=t(row["disabled_at"]),
        overrides=j(row["overrides"]) or {},
    )


def decode_fire(row: dict[str, Any], t: TimeDecoder) -> FireRecord:
    """A row of hourhand_schedule_fires (either dialect)."""
    fire_time, recorded_at = t(row["fire_time"]), t(row["recorded_at"])
    assert fire_time is not None and recorded_at is not None
    return FireRecord(
        schedule_id=row["schedule_id"],
        fire_time=fire_time,
        status=row["status"],
        recorded_at=recorded_at,
        due_at=t(row["due_at"]),
        job_id=row["job_id"],
        outcome=row["outcome"],
        finished_at=t(row["finished_at"]),
        unlisted=row["unlisted"],
    )


def schedule_params(spec: ScheduleSpec, next_fire_at: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "org_id": spec.org_id,
        "source": spec.source,
        "job": spec.job,
        "args": spec.args_json,
        "cron": spec.cron,
        "tz": spec.tz,
        "enabled": spec.enabled,
        "queue": spec.queue,
        "priority": spec.priority,
        "max_attempts": spec.max_attempts,
        "timeout": spec.timeout,
        "misfire": spec.misfire,
        "misfire_cap": spec.misfire_cap,
        "catchup_window": spec.catchup_window,
        "overlap": spec.overlap,
        "jitter": spec.jitter,
        "created_by": spec.created_by,
        "next_fire_at": next_fire_at,
    }


def schedule_update_sql(values: dict[str, Any], param: Callable[[str], str], now: str) -> str:
    """``UPDATE hourhand_schedules SET ...`` for the given columns (whitelisted). Disabling
    a schedule notes since when (``disabled_at``, unless it is noted already); enabling it
    keeps that until the scheduler has recorded the fire times in between."""
    unknown = set(values) - SCHEDULE_COLUMNS
    if unknown:
        raise ValueError(f"not schedule columns: {sorted(unknown)}")
    sets = ", ".join(f"{column} = {param(column)}" for column in sorted(values))
    if "enabled" in values and "disabled_at" not in values:
        sets += (
            f", disabled_at = CASE WHEN {param('enabled')} THEN disabled_at "
            f"ELSE coalesce(disabled_at, {now}) END"
        )
    return (
        f"UPDATE hourhand_schedules SET {sets}, updated_at = {now} "
        f"WHERE id = {param('id')} RETURNING *"
    )


def epoch_to_datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def datetime_to_epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def json_text(value: Any) -> Any:
    return None if value is None else json.loads(value)


def json_native(value: Any) -> Any:
    return value


def json_args(value: str) -> Any:
    """A claimed job's args from their JSON text (claims send them as text, on both
    stores): no args, the most common case, without a parse."""
    return {} if value == "{}" else json.loads(value)
