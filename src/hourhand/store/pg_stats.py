"""The statistics operations of the PostgreSQL store (the rollup, its compaction and the
pruning of old jobs): a mixin of PostgresStore, on its connections and its queries
(``sql/postgres/queries.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from hourhand.checks import MAX_ID
from hourhand.jobs import JobState
from hourhand.stats import StatsPoint, StatsTotal
from hourhand.store.base import PruneBatch
from hourhand.store.pg_util import PgFacet, _utc
from hourhand.store.rows import decode_point, decode_total

if TYPE_CHECKING:
    pass


# A batch of prune_jobs walks the primary key from where the last one stopped and stops at
# its LIMIT: its cost is the batch, not the table. Right after a bulk load the statistics
# may say otherwise (few finished jobs) and the planner would read every candidate and sort
# them, per batch; ruling out sorts and sequential scans leaves the ordered index walk.
PRUNE_PLANNING = (
    "SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true)"
)


class PgStats(PgFacet):
    """stats_totals, stats_series, compact_stats and prune_jobs of
    :class:`hourhand.store.base.Store`."""

    # -- statistics -----------------------------------------------------------------------
    def stats_totals(self) -> list[StatsTotal]:
        return [decode_total(r) for r in self._all("stats_totals")]

    def stats_series(
        self,
        since: datetime,
        until: datetime | None = None,
        queue: str | None = None,
        name: str | None = None,
    ) -> list[StatsPoint]:
        params = {"since": since, "until": until, "queue": queue, "name": name}
        return [decode_point(r, _utc) for r in self._all("stats_series", params)]

    def compact_stats(self, before: datetime, upto: datetime | None = None) -> int:
        row = self._one("compact_stats", {"before": before, "upto": upto or before})
        return 0 if row is None else int(row["n"])

    def count_prunable(
        self,
        before: datetime,
        states: Sequence[JobState],
        *,
        queue: str | None = None,
        except_queues: Sequence[str] = (),
    ) -> dict[str, int]:
        params = {
            "before": before,
            "states": [str(s) for s in states],
            "queue": queue,
            "except_queues": list(except_queues),
        }
        return {r["state"]: int(r["n"]) for r in self._all("count_prunable", params)}

    def prune_jobs(
        self,
        before: datetime,
        states: Sequence[JobState],
        limit: int,
        *,
        after_id: int = 0,
        upto_id: int | None = None,
        queue: str | None = None,
        except_queues: Sequence[str] = (),
    ) -> PruneBatch:
        params = {
            "before": before,
            "states": [str(s) for s in states],
            "limit": limit,
            "after_id": after_id,
            "upto_id": MAX_ID if upto_id is None else upto_id,
            "queue": queue,
            "except_queues": list(except_queues),
        }
        with self._connection() as conn:
            with conn.pipeline():  # one round trip; the settings hold for this statement
                conn.execute(PRUNE_PLANNING)
                cur = conn.cursor()
                cur.execute(self.q["prune_jobs"], params)
            row = cur.fetchone()
        if row is None:
            return PruneBatch(0, 0, None)
        return PruneBatch(int(row["found"]), int(row["deleted"]), row["last_id"])

    def first_job_from(self, job_id: int) -> tuple[int, datetime] | None:
        row = self._one("first_job_from", {"id": job_id})
        return None if row is None else (int(row["id"]), row["created_at"])

    def last_job_id(self) -> int | None:
        row = self._one("last_job_id")
        return None if row is None or row["id"] is None else int(row["id"])
