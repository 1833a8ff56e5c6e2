"""The statistics operations of the PostgreSQL store (the rollup, its compaction and the
pruning of old jobs): a mixin of PostgresStore, on its connections and its queries
(``sql/postgres/queries.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hourhand.jobs import JobState
from hourhand.stats import StatsPoint, StatsTotal
from hourhand.store.pg_util import _utc
from hourhand.store.rows import decode_point, decode_total


class PgStats:
    """stats_totals, stats_series, compact_stats and prune_jobs of
    :class:`hourhand.store.base.Store`."""

    if TYPE_CHECKING:  # what the mixin uses of PostgresStore

        def _one(
            self, query: str, params: dict[str, Any] | None = None
        ) -> dict[str, Any] | None: ...

        def _all(
            self, query: str, params: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]: ...

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

    def count_prunable(self, before: datetime, states: Sequence[JobState]) -> dict[str, int]:
        params = {"before": before, "states": [str(s) for s in states]}
        return {r["state"]: int(r["n"]) for r in self._all("count_prunable", params)}

    def prune_jobs(self, before: datetime, states: Sequence[JobState], limit: int) -> int:
        params = {"before": before, "states": [str(s) for s in states], "limit": limit}
        row = self._one("prune_jobs", params)
        return 0 if row is None else int(row["n"])
