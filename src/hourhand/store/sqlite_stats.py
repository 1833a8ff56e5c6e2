"""The statistics operations of the SQLite store (the rollup, its compaction and the
pruning of old jobs): a mixin of SQLiteStore, on its connections and its queries
(``sql/sqlite/queries.sql``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from hourhand.checks import MAX_ID
from hourhand.jobs import JobState
from hourhand.stats import StatsPoint, StatsTotal
from hourhand.store.base import PruneBatch
from hourhand.store.rows import datetime_to_epoch, decode_point, decode_total, epoch_to_datetime
from hourhand.store.sqlite_util import NOW_SQL, SQLiteFacet, _one


class SQLiteStats(SQLiteFacet):
    """stats_totals, stats_series, compact_stats and prune_jobs of
    :class:`hourhand.store.base.Store`."""

    # -- statistics -----------------------------------------------------------------------
    def stats_totals(self) -> list[StatsTotal]:
        return [decode_total(r) for r in self._read(self.q["stats_totals"])]

    def stats_series(
        self,
        since: datetime,
        until: datetime | None = None,
        queue: str | None = None,
        name: str | None = None,
    ) -> list[StatsPoint]:
        params = {
            "since": datetime_to_epoch(since),
            "until": datetime_to_epoch(until),
            "queue": queue,
            "name": name,
        }
        rows = self._read(self.q["stats_series"], params)
        return [decode_point(r, epoch_to_datetime) for r in rows]

    def compact_stats(self, before: datetime, upto: datetime | None = None) -> int:
        with self._write() as conn:
            now = _one(conn.execute(f"SELECT {NOW_SQL} AS now"))["now"]
            target = min(datetime_to_epoch(upto or before) or 0.0, now // 60 * 60)
            params = {"before": datetime_to_epoch(before), "upto": target}
            conn.execute(self.q["fold_stats"], params)
            dropped = conn.execute(self.q["drop_stats"], params).rowcount
            conn.execute(self.q["mark_stats"], params)
            return dropped

    def count_prunable(
        self,
        before: datetime,
        states: Sequence[JobState],
        *,
        queue: str | None = None,
        except_queues: Sequence[str] = (),
    ) -> dict[str, int]:
        params = {
            "before": datetime_to_epoch(before),
            "states": json.dumps([str(s) for s in states]),
            "queue": queue,
            "except_queues": json.dumps(list(except_queues)),
        }
        rows = self._read(self.q["count_prunable"], params)
        return {r["state"]: int(r["n"]) for r in rows}

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
            "before": datetime_to_epoch(before),
            "states": json.dumps([str(s) for s in states]),
            "limit": limit,
            "after_id": after_id,
            "upto_id": MAX_ID if upto_id is None else upto_id,
            "queue": queue,
            "except_queues": json.dumps(list(except_queues)),
        }
        with self._write() as conn:
            found = [r["id"] for r in conn.execute(self.q["prunable"], params)]
            if not found:
                return PruneBatch(0, 0, None)
            ids = json.dumps(found)
            conn.execute(self.q["prune_attempts"], {"ids": ids})
            deleted = conn.execute(self.q["prune_jobs"], {"ids": ids}).rowcount
        return PruneBatch(len(found), deleted, max(found))

    def first_job_from(self, job_id: int) -> tuple[int, datetime] | None:
        rows = self._read(self.q["first_job_from"], {"id": job_id})
        if not rows:
            return None
        created = epoch_to_datetime(rows[0]["created_at"])
        assert created is not None
        return int(rows[0]["id"]), created

    def last_job_id(self) -> int | None:
        rows = self._read(self.q["last_job_id"])
        return None if not rows or rows[0]["id"] is None else int(rows[0]["id"])
