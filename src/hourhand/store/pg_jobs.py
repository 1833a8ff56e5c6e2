"""Reading and changing jobs one by one for operators (get, list, count, cancel, retry,
delete), the counts per state, and the queues' pause flags: a mixin of PostgresStore, on
its connections and its queries (``sql/postgres/queries.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from hourhand.errors import JobStateError
from hourhand.jobs import Attempt, Job, JobState
from hourhand.store.base import HOLD_UNTIL, JobFilter, QueueInfo
from hourhand.store.listing import count_jobs_sql, list_jobs_sql
from hourhand.store.pg_util import PgFacet, _param, _same, _utc
from hourhand.store.rows import decode_attempt, decode_job, json_native

if TYPE_CHECKING:
    pass

# Counts of jobs per state go through the partial indexes of the states they count, never a
# scan of the table (its history): with statistics that say most jobs are queued (a bulk
# enqueue not yet analyzed) the planner would otherwise read the whole table to count them.
COUNT_PLANNING = "SELECT set_config('enable_seqscan', 'off', true)"
COUNT_PLANNING_END = "SELECT set_config('enable_seqscan', 'on', true)"


class PgJobs(PgFacet):
    """get_job, get_jobs, list_jobs, count_jobs, ready_by_type, delete_job, list_attempts,
    cancel_job, retry_job, count_by_state and the queues' flags of
    :class:`hourhand.store.base.Store`."""

    def get_job(self, job_id: int) -> Job | None:
        row = self._one("get_job", {"id": job_id})
        return None if row is None else decode_job(row, _utc, json_native)

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        rows = self._all("get_jobs", {"ids": list(job_ids)})
        return [decode_job(row, _utc, json_native) for row in rows]

    def list_jobs(self, flt: JobFilter) -> list[Job]:
        sql, params = list_jobs_sql(flt, _param, _same, "args::text")
        return [decode_job(r, _utc, json_native) for r in self._all_sql(sql, params)]

    def count_jobs(self, flt: JobFilter) -> int:
        sql, params = count_jobs_sql(flt, _param, _same, "args::text")
        return int(self._all_sql(sql, params)[0]["n"])

    def _all_sql(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def ready_by_type(self) -> list[tuple[str, str, int]]:
        return [(r["queue"], r["name"], r["n"]) for r in self._all("ready_by_type")]

    def delete_job(self, job_id: int) -> bool:
        return bool(self._all("delete_job", {"id": job_id}))

    def list_attempts(self, job_id: int) -> list[Attempt]:
        return [decode_attempt(r, _utc) for r in self._all("list_attempts", {"job_id": job_id})]

    def cancel_job(self, job_id: int) -> Job | None:
        with self._connection() as conn, conn.transaction():
            params = {"id": job_id, "hold": HOLD_UNTIL}
            row = conn.execute(self.q["cancel_waiting"], params).fetchone()
            if row is None:
                row = conn.execute(self.q["request_cancel"], {"id": job_id}).fetchone()
        if row is None:  # finished already, or no such job
            return self.get_job(job_id)
        return decode_job(row, _utc, json_native)

    def retry_job(
        self, job_id: int, delay: float = 0.0, expect: JobState | None = None
    ) -> Job | None:
        try:
            changed = self._all(
                "retry_job",
                {"id": job_id, "delay": delay, "expect": None if expect is None else str(expect)},
            )
        except psycopg.errors.UniqueViolation as exc:
            raise JobStateError(
                f"job {job_id} cannot be retried: another job with its unique key is waiting"
            ) from exc
        return self.get_job(job_id) if changed else None

    def count_by_state(self) -> dict[str, int]:
        counts = {str(s): 0 for s in JobState}
        with self._connection() as conn:
            with conn.pipeline(), conn.transaction():  # one round trip, one transaction
                conn.execute(COUNT_PLANNING)
                jobs = conn.execute(self.q["count_by_state"])
                conn.execute(COUNT_PLANNING_END)
                finished = conn.execute(self.q["count_finished"])
            counts.update({r["state"]: r["n"] for r in jobs.fetchall()})
            row = finished.fetchone()
        assert row is not None
        counts["completed"], counts["cancelled"] = row["completed"], row["cancelled"]
        return counts

    # -- queues ---------------------------------------------------------------------------
    def set_paused(self, queue: str, paused: bool) -> None:
        self._all("set_paused", {"name": queue, "paused": paused})

    def paused_queues(self) -> frozenset[str]:
        return frozenset(r["name"] for r in self._all("paused_queues"))

    def ready_queues(self) -> list[str]:
        return [r["queue"] for r in self._all("ready_queues")]

    def list_queues(self, name: str | None = None) -> list[QueueInfo]:
        return [
            QueueInfo(
                r["name"],
                r["paused"],
                r["ready"],
                r["running"],
                r["changed_at"],
                r["scheduled"],
                r["retrying"],
                r["failed"],
                r["oldest_ready_at"],
            )
            for r in self._all("list_queues", {"name": name})
        ]
