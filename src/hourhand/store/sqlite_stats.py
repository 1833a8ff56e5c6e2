"""The statistics operations of the SQLite store (the rollup, its compaction and the
pruning of old jobs): a mixin of SQLiteStore, on its connections and its queries
(``sql/sqlite/queries.sql``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hourhand.jobs import JobState
from hourhand.stats import StatsPoint, StatsTotal
from hourhand.store.rows import datetime_to_epoch, decode_point, decode_total, epoch_to_datetime
from hourhand.store.sqlite_util import NOW_SQL, _one


class SQLiteStats:
    """stats_totals, stats_series, compact_stats and prune_jobs of
    :class:`hourhand.store.base.Store`."""

    if TYPE_CHECKING:  # what the mixin uses of SQLiteStore
        q: dict[str, str]

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _read(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

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

    def count_prunable(self, before: datetime, states: Sequence[JobState]) -> dict[str, int]:
        params = {
            "before": datetime_to_epoch(before),
            "states": json.dumps([str(s) for s in states]),
        }
        rows = self._read(self.q["count_prunable"], params)
        return {r["state"]: int(r["n"]) for r in rows}

    def prune_jobs(self, before: datetime, states: Sequence[JobState], limit: int) -> int:
        params = {
            "before": datetime_to_epoch(before),
            "states": json.dumps([str(s) for s in states]),
            "limit": limit,
        }
        with self._write() as conn:
            ids = json.dumps([r["id"] for r in conn.execute(self.q["prunable"], params)])
            conn.execute(self.q["prune_attempts"], {"ids": ids})
            return conn.execute(self.q["prune_jobs"], {"ids": ids}).rowcount
