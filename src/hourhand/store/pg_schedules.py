"""The schedule operations of the PostgreSQL store, with the ledger of fire times: a mixin
of PostgresStore, on its connections and its queries (``sql/postgres/queries.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hourhand.jobs import Job, NewJob
from hourhand.schedule_model import Schedule, ScheduleExists, ScheduleSpec
from hourhand.store.fires import FireRecord, NewFire
from hourhand.store.pg_util import PgFacet, _split, _utc
from hourhand.store.rows import (
    decode_fire,
    decode_job,
    decode_schedule,
    json_native,
    schedule_params,
    schedule_update_sql,
)

if TYPE_CHECKING:
    pass


class PgSchedules(PgFacet):
    """insert_schedule ... last_successes of :class:`hourhand.store.base.Store`."""

    if TYPE_CHECKING:  # what the mixin uses of PostgresStore

        def _insert(
            self,
            conn: psycopg.Connection[dict[str, Any]],
            jobs: Sequence[NewJob],
            plain: list[int],
            keyed: list[int],
            ids: list[int | None],
            created: list[bool],
        ) -> None: ...

    # -- schedules ------------------------------------------------------------------------
    def _schedule(self, row: dict[str, Any] | None) -> Schedule | None:
        return None if row is None else decode_schedule(row, _utc, json_native)

    def insert_schedule(self, spec: ScheduleSpec, next_fire_at: datetime | None) -> Schedule:
        try:
            row = self._one("insert_schedule", schedule_params(spec, next_fire_at))
        except psycopg.errors.UniqueViolation:
            where = f" in organisation {spec.org_id!r}" if spec.org_id else ""
            raise ScheduleExists(f"a schedule named {spec.name!r} already exists{where}") from None
        found = self._schedule(row)
        assert found is not None
        return found

    def update_schedule(self, schedule_id: int, values: dict[str, Any]) -> Schedule | None:
        params: dict[str, Any] = {"id": schedule_id}
        params.update({k: Jsonb(v) if k in ("args", "overrides") else v for k, v in values.items()})
        sql = schedule_update_sql(values, lambda c: f"%({c})s", "now()")
        try:
            with self._connection() as conn:
                row = conn.execute(sql.encode(), params).fetchone()
        except psycopg.errors.UniqueViolation:
            raise ScheduleExists(
                f"a schedule named {values.get('name')!r} already exists"
            ) from None
        return self._schedule(row)

    def delete_schedule(self, schedule_id: int) -> bool:
        return self._one("delete_schedule", {"id": schedule_id}) is not None

    def get_schedule(self, schedule_id: int) -> Schedule | None:
        return self._schedule(self._one("get_schedule", {"id": schedule_id}))

    def find_schedule(self, name: str, org_id: str | None) -> Schedule | None:
        return self._schedule(self._one("find_schedule", {"name": name, "org_id": org_id}))

    def list_schedules(
        self, *, org_id: str | None = None, source: str | None = None
    ) -> list[Schedule]:
        rows = self._all("list_schedules", {"org_id": org_id, "source": source})
        return [decode_schedule(r, _utc, json_native) for r in rows]

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        rows = self._all("due_schedules", {"now": now, "limit": limit})
        return [decode_schedule(r, _utc, json_native) for r in rows]

    def next_schedule_due(self) -> datetime | None:
        row = self._one("next_schedule_due")
        return None if row is None else row["next_due"]

    def fire_schedule(
        self,
        schedule_id: int,
        expected: datetime,
        next_fire_at: datetime | None,
        jobs: Sequence[NewJob],
        fires: Sequence[NewFire] = (),
    ) -> list[int]:
        ids: list[int | None] = [None] * len(jobs)
        plain, keyed = _split(jobs)
        params = {"id": schedule_id, "expected": expected}
        with self._connection() as conn, conn.transaction():
            if conn.execute(self.q["lock_fire"], params).fetchone() is None:
                return []  # another scheduler fired it (or it changed): its decision stands
            self._insert(conn, jobs, plain, keyed, ids, [True] * len(jobs))
            if fires:
                by_time = {job.fire_time: i for job, i in zip(jobs, ids, strict=True)}
                conn.execute(
                    self.q["insert_fires"],
                    {
                        "schedule_id": schedule_id,
                        "fire_times": [f.fire_time for f in fires],
                        "statuses": [f.status for f in fires],
                        "due": [f.due_at for f in fires],
                        "job_ids": [by_time.get(f.run) for f in fires],
                        "unlisted": [f.unlisted for f in fires],
                    },
                )
            params.update(
                next_fire_at=next_fire_at,
                fired_at=jobs[-1].fire_time if jobs else None,
                job_id=ids[-1] if ids else None,
            )
            conn.execute(self.q["advance_schedule"], params).fetchall()
        return [i for i in ids if i is not None]

    def trigger_schedule(self, job: NewJob) -> int:
        assert job.schedule_id is not None and job.fire_time is None
        ids: list[int | None] = [None]
        with self._connection() as conn, conn.transaction():
            self._insert(conn, [job], [], [0], ids, [True])
            conn.execute(self.q["insert_trigger_fire"], {"job_id": ids[0]})
        assert ids[0] is not None
        return ids[0]

    def schedule_activity(self, schedule_id: int) -> tuple[int, int]:
        row = self._one("schedule_activity", {"schedule_id": schedule_id})
        assert row is not None
        return int(row["waiting"]), int(row["running"])

    def schedule_jobs(self, schedule_id: int, limit: int) -> list[Job]:
        rows = self._all("schedule_jobs", {"schedule_id": schedule_id, "limit": limit})
        return [decode_job(r, _utc, json_native) for r in rows]

    # -- the ledger of fire times -----------------------------------------------------------
    def schedule_fires(
        self, schedule_id: int, limit: int, before: datetime | None = None
    ) -> list[FireRecord]:
        params = {"schedule_id": schedule_id, "limit": limit, "before": before}
        return [decode_fire(r, _utc) for r in self._all("schedule_fires", params)]

    def latest_fires(self, schedule_ids: Sequence[int] | None = None) -> dict[int, FireRecord]:
        params = {"ids": None if schedule_ids is None else list(schedule_ids)}
        rows = self._all("latest_fires", params)
        return {r["schedule_id"]: decode_fire(r, _utc) for r in rows}

    def prune_fires(self, schedule_id: int, before: datetime, limit: int) -> int:
        params = {"schedule_id": schedule_id, "before": before, "limit": limit}
        with self._connection() as conn:
            return conn.execute(self.q["prune_fires"], params).rowcount

    def last_successes(self, schedule_ids: Sequence[int] | None = None) -> dict[int, datetime]:
        params = {"ids": None if schedule_ids is None else list(schedule_ids)}
        rows = self._all("last_successes", params)
        return {r["schedule_id"]: r["at"] for r in rows if r["at"] is not None}
