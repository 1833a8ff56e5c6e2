"""The schedule operations of the SQLite store, with the ledger of fire times: a mixin of
SQLiteStore, on its connections and its queries (``sql/sqlite/queries.sql``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hourhand.jobs import Job, NewJob
from hourhand.schedule_model import Schedule, ScheduleExists, ScheduleSpec
from hourhand.store.base import HOLD_UNTIL
from hourhand.store.fires import FireRecord, NewFire
from hourhand.store.rows import (
    datetime_to_epoch,
    decode_fire,
    decode_job,
    decode_schedule,
    epoch_to_datetime,
    json_text,
    schedule_params,
    schedule_update_sql,
)
from hourhand.store.sqlite_util import NOW_SQL, SQLiteFacet, _first, _one


class SQLiteSchedules(SQLiteFacet):
    """insert_schedule ... last_successes of :class:`hourhand.store.base.Store`, and what the
    store's job endings tell a schedule and its ledger (``_schedule_ran``)."""

    if TYPE_CHECKING:  # what the mixin uses of SQLiteStore

        def _insert(self, conn: sqlite3.Connection, job: NewJob) -> tuple[int, bool]: ...

    # -- schedules ------------------------------------------------------------------------
    def _schedule_ran(
        self,
        conn: sqlite3.Connection,
        schedule_id: int,
        status: str,
        duration: float | None,
        finished: bool,
        job_id: int,
        finished_at: float | None,
    ) -> None:
        """A run of the schedule ended an attempt in ``status``: the schedule records it;
        when the run has ended for good (``finished``) its ledger entry records how and the
        run held behind it is released."""
        conn.execute(
            self.q["schedule_ran"],
            {"schedule_id": schedule_id, "status": status, "duration": duration},
        )
        if finished:
            conn.execute(
                self.q["fire_ended"],
                {"job_id": job_id, "outcome": status, "finished_at": finished_at},
            )
            released = conn.execute(
                self.q["release_held"],
                {"schedule_id": schedule_id, "hold": datetime_to_epoch(HOLD_UNTIL)},
            ).fetchall()
            for row in released:
                conn.execute(self.q["fire_released"], {"job_id": row["id"]})

    def _schedule(self, row: dict[str, Any] | None) -> Schedule | None:
        return None if row is None else decode_schedule(row, epoch_to_datetime, json_text)

    def insert_schedule(self, spec: ScheduleSpec, next_fire_at: datetime | None) -> Schedule:
        params = schedule_params(spec, datetime_to_epoch(next_fire_at))
        params["enabled"] = int(spec.enabled)
        try:
            with self._write() as conn:
                row = _one(conn.execute(self.q["insert_schedule"], params))
        except sqlite3.IntegrityError:
            raise ScheduleExists(_exists_message(spec)) from None
        found = self._schedule(row)
        assert found is not None
        return found

    def update_schedule(self, schedule_id: int, values: dict[str, Any]) -> Schedule | None:
        params: dict[str, Any] = {"id": schedule_id}
        for key, value in values.items():
            if isinstance(value, datetime):
                value = datetime_to_epoch(value)
            elif isinstance(value, bool):
                value = int(value)
            elif key in ("args", "overrides"):
                value = json.dumps(value)
            params[key] = value
        sql = schedule_update_sql(values, lambda c: f":{c}", NOW_SQL)
        try:
            with self._write() as conn:
                row = _first(conn.execute(sql, params))
        except sqlite3.IntegrityError:
            raise ScheduleExists(
                f"a schedule named {values.get('name')!r} already exists"
            ) from None
        return self._schedule(row)

    def delete_schedule(self, schedule_id: int) -> bool:
        with self._write() as conn:
            return _first(conn.execute(self.q["delete_schedule"], {"id": schedule_id})) is not None

    def get_schedule(self, schedule_id: int) -> Schedule | None:
        return self._schedule(self._read_one(self.q["get_schedule"], {"id": schedule_id}))

    def find_schedule(self, name: str, org_id: str | None) -> Schedule | None:
        params = {"name": name, "org_id": org_id}
        return self._schedule(self._read_one(self.q["find_schedule"], params))

    def list_schedules(
        self, *, org_id: str | None = None, source: str | None = None
    ) -> list[Schedule]:
        rows = self._read(self.q["list_schedules"], {"org_id": org_id, "source": source})
        return [decode_schedule(r, epoch_to_datetime, json_text) for r in rows]

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        params = {"now": datetime_to_epoch(now), "limit": limit}
        rows = self._read(self.q["due_schedules"], params)
        return [decode_schedule(r, epoch_to_datetime, json_text) for r in rows]

    def next_schedule_due(self) -> datetime | None:
        row = self._read_one(self.q["next_schedule_due"])
        return None if row is None else epoch_to_datetime(row["next_due"])

    def fire_schedule(
        self,
        schedule_id: int,
        expected: datetime,
        next_fire_at: datetime | None,
        jobs: Sequence[NewJob],
        fires: Sequence[NewFire] = (),
    ) -> list[int]:
        params: dict[str, Any] = {"id": schedule_id, "expected": datetime_to_epoch(expected)}
        with self._write() as conn:
            if _first(conn.execute(self.q["lock_fire"], params)) is None:
                return []  # another scheduler fired it (or it changed): its decision stands
            ids = [self._insert(conn, job)[0] for job in jobs]
            by_time = {job.fire_time: i for job, i in zip(jobs, ids, strict=True)}
            conn.executemany(
                self.q["insert_fire"],
                [
                    {
                        "schedule_id": schedule_id,
                        "fire_time": datetime_to_epoch(f.fire_time),
                        "status": f.status,
                        "due_at": datetime_to_epoch(f.due_at),
                        "job_id": by_time.get(f.run),
                        "unlisted": f.unlisted,
                    }
                    for f in fires
                ],
            )
            params.update(
                next_fire_at=datetime_to_epoch(next_fire_at),
                fired_at=datetime_to_epoch(jobs[-1].fire_time) if jobs else None,
                job_id=ids[-1] if ids else None,
            )
            _first(conn.execute(self.q["advance_schedule"], params))
        return ids

    def trigger_schedule(self, job: NewJob) -> int:
        assert job.schedule_id is not None and job.fire_time is None
        with self._write() as conn:
            job_id = self._insert(conn, job)[0]
            conn.execute(self.q["insert_trigger_fire"], {"job_id": job_id})
        return job_id

    def schedule_activity(self, schedule_id: int) -> tuple[int, int]:
        row = self._read_one(self.q["schedule_activity"], {"schedule_id": schedule_id})
        assert row is not None
        return int(row["waiting"]), int(row["running"])

    def schedule_jobs(self, schedule_id: int, limit: int) -> list[Job]:
        rows = self._read(self.q["schedule_jobs"], {"schedule_id": schedule_id, "limit": limit})
        return [decode_job(r, epoch_to_datetime, json_text) for r in rows]

    # -- the ledger of fire times -----------------------------------------------------------
    def schedule_fires(
        self, schedule_id: int, limit: int, before: datetime | None = None
    ) -> list[FireRecord]:
        params = {"schedule_id": schedule_id, "limit": limit, "before": datetime_to_epoch(before)}
        rows = self._read(self.q["schedule_fires"], params)
        return [decode_fire(r, epoch_to_datetime) for r in rows]

    def latest_fires(self, schedule_ids: Sequence[int] | None = None) -> dict[int, FireRecord]:
        rows = self._read(self.q["latest_fires"], {"ids": _ids(schedule_ids)})
        return {r["schedule_id"]: decode_fire(r, epoch_to_datetime) for r in rows}

    def prune_fires(self, schedule_id: int, before: datetime, limit: int) -> int:
        params = {"schedule_id": schedule_id, "before": datetime_to_epoch(before), "limit": limit}
        with self._write() as conn:
            return conn.execute(self.q["prune_fires"], params).rowcount

    def last_successes(self, schedule_ids: Sequence[int] | None = None) -> dict[int, datetime]:
        rows = self._read(self.q["last_successes"], {"ids": _ids(schedule_ids)})
        return {
            r["schedule_id"]: at for r in rows if (at := epoch_to_datetime(r["at"])) is not None
        }


def _ids(schedule_ids: Sequence[int] | None) -> str | None:
    return None if schedule_ids is None else json.dumps([int(i) for i in schedule_ids])


def _exists_message(spec: ScheduleSpec) -> str:
    where = f" in organisation {spec.org_id!r}" if spec.org_id else ""
    return f"a schedule named {spec.name!r} already exists{where}"
