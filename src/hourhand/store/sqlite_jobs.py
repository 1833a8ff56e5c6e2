"""Reading and changing jobs one by one for operators (get, list, count, cancel, retry,
delete), the counts per state, and the queues' pause flags: a mixin of SQLiteStore, on its
connections and its queries (``sql/sqlite/queries.sql``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hourhand.errors import JobStateError
from hourhand.jobs import Attempt, Job, JobState
from hourhand.store.base import JobFilter, QueueInfo
from hourhand.store.listing import count_jobs_sql, list_jobs_sql
from hourhand.store.rows import (
    datetime_to_epoch,
    decode_attempt,
    decode_job,
    epoch_to_datetime,
    json_text,
)
from hourhand.store.sqlite_util import SQLiteFacet, _Count, _first, _param


class SQLiteJobs(SQLiteFacet):
    """get_job, get_jobs, list_jobs, count_jobs, ready_by_type, delete_job, list_attempts,
    cancel_job, retry_job, count_by_state and the queues' flags of
    :class:`hourhand.store.base.Store`."""

    if TYPE_CHECKING:  # what the mixin uses of SQLiteStore

        def _schedule_ran(
            self,
            conn: sqlite3.Connection,
            schedule_id: int,
            status: str,
            duration: float | None,
            finished: bool,
            job_id: int,
            finished_at: float | None,
        ) -> None: ...

        def _count(
            self, conn: sqlite3.Connection, queue: str, name: str, count: _Count
        ) -> None: ...

    def get_job(self, job_id: int) -> Job | None:
        row = self._read_one(self.q["get_job"], {"id": job_id})
        return None if row is None else decode_job(row, epoch_to_datetime, json_text)

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        rows = self._read(self.q["get_jobs"], {"ids": json.dumps(list(job_ids))})
        return [decode_job(row, epoch_to_datetime, json_text) for row in rows]

    def list_jobs(self, flt: JobFilter) -> list[Job]:
        sql, params = list_jobs_sql(flt, _param, datetime_to_epoch, "args")
        return [decode_job(r, epoch_to_datetime, json_text) for r in self._read(sql, params)]

    def count_jobs(self, flt: JobFilter) -> int:
        sql, params = count_jobs_sql(flt, _param, datetime_to_epoch, "args")
        return int(self._read(sql, params)[0]["n"])

    def ready_by_type(self) -> list[tuple[str, str, int]]:
        return [(r["queue"], r["name"], r["n"]) for r in self._read(self.q["ready_by_type"])]

    def delete_job(self, job_id: int) -> bool:
        with self._write() as conn:
            if _first(conn.execute(self.q["delete_job"], {"id": job_id})) is None:
                return False
            conn.execute(self.q["delete_attempts"], {"id": job_id})
            return True

    def list_attempts(self, job_id: int) -> list[Attempt]:
        rows = self._read(self.q["list_attempts"], {"job_id": job_id})
        return [decode_attempt(r, epoch_to_datetime) for r in rows]

    def cancel_job(self, job_id: int) -> Job | None:
        with self._write() as conn:
            row = _first(conn.execute(self.q["cancel_waiting"], {"id": job_id}))
            if row is not None and row["schedule_id"] is not None:
                self._schedule_ran(
                    conn, row["schedule_id"], "cancelled", None, True, row["id"], row["finished_at"]
                )
            if row is not None:
                self._count(conn, row["queue"], row["name"], _Count(cancelled=1))
            if row is None:
                row = _first(conn.execute(self.q["request_cancel"], {"id": job_id}))
        if row is None:  # finished already, or no such job
            return self.get_job(job_id)
        return decode_job(row, epoch_to_datetime, json_text)

    def retry_job(
        self, job_id: int, delay: float = 0.0, expect: JobState | None = None
    ) -> Job | None:
        try:
            with self._write() as conn:
                changed = _first(
                    conn.execute(
                        self.q["retry_job"],
                        {
                            "id": job_id,
                            "delay": delay,
                            "expect": None if expect is None else str(expect),
                        },
                    )
                )
        except sqlite3.IntegrityError as exc:
            raise JobStateError(
                f"job {job_id} cannot be retried: another job with its unique key is waiting"
            ) from exc
        return self.get_job(job_id) if changed else None

    def count_by_state(self) -> dict[str, int]:
        rows = self._read(self.q["count_by_state"])
        counts = {str(s): 0 for s in JobState}
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    # -- queues ---------------------------------------------------------------------------
    def set_paused(self, queue: str, paused: bool) -> None:
        with self._write() as conn:
            conn.execute(self.q["set_paused"], {"name": queue, "paused": int(paused)})

    def paused_queues(self) -> frozenset[str]:
        return frozenset(r["name"] for r in self._read(self.q["paused_queues"]))

    def ready_queues(self) -> list[str]:
        return [r["queue"] for r in self._read(self.q["ready_queues"])]

    def list_queues(self, name: str | None = None) -> list[QueueInfo]:
        rows = self._read(self.q["list_queues"], {"name": name})
        return [
            QueueInfo(
                r["name"],
                bool(r["paused"]),
                r["ready"],
                r["running"],
                epoch_to_datetime(r["changed_at"]),
                r["scheduled"],
                r["retrying"],
                r["failed"],
                epoch_to_datetime(r["oldest_ready_at"]),
            )
            for r in rows
        ]
