"""The alerts facet (alerts, their history, API rules) of the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hourhand.errors import Conflict
from hourhand.jobs import NewJob
from hourhand.store.alert_rows import (
    AlertQuery,
    AlertRecords,
    AlertRow,
    NewAlert,
    RecentAttempt,
    StoredRule,
    change_sql,
    decode_alert,
    decode_rule,
    insert_params,
)
from hourhand.store.base import load_queries
from hourhand.store.pg_util import _split, _utc
from hourhand.store.rows import json_native

if TYPE_CHECKING:
    from hourhand.store.postgres import PostgresStore


class PgAlerts(AlertRecords):
    """On the store's pooled connections; a change and its notifications in one
    transaction."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.q = load_queries("postgres", "alerts.sql")

    def _all(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._store._connection() as conn:
            cur = conn.execute(self.q[query], params)
            return cur.fetchall() if cur.description is not None else []

    def _alert(self, rows: list[dict[str, Any]]) -> AlertRow | None:
        return decode_alert(rows[0], _utc, json_native) if rows else None

    def _enqueue(self, conn: psycopg.Connection[dict[str, Any]], jobs: Sequence[NewJob]) -> None:
        if jobs:
            plain, keyed = _split(jobs)
            ids: list[int | None] = [None] * len(jobs)
            self._store._insert(conn, jobs, plain, keyed, ids, [True] * len(jobs))

    # -- alerts ---------------------------------------------------------------------------
    def open_alerts(self) -> list[AlertRow]:
        return [decode_alert(r, _utc, json_native) for r in self._all("open_alerts", {})]

    def insert_alert(
        self, alert: NewAlert, at: datetime, notify: Sequence[NewJob] = ()
    ) -> AlertRow | None:
        params = insert_params(alert, at, len(notify), lambda t: t)
        params["details"] = Jsonb(alert.details)
        with self._store._connection() as conn, conn.transaction():
            row = conn.execute(self.q["insert_alert"], params).fetchone()
            if row is None:
                return None
            self._enqueue(conn, notify)
        return decode_alert(row, _utc, json_native)

    def change_alert(
        self,
        alert_id: int,
        expect: dict[str, Any],
        values: dict[str, Any],
        notify: Sequence[NewJob] = (),
    ) -> bool:
        sql, params = change_sql(
            alert_id, expect, values, len(notify), "%({})s", "IS NOT DISTINCT FROM"
        )
        if "details" in params:
            params["details"] = Jsonb(params["details"])
        with self._store._connection() as conn, conn.transaction():
            if conn.execute(sql.encode(), params).fetchone() is None:
                return False
            self._enqueue(conn, notify)
        return True

    def get_alert(self, alert_id: int) -> AlertRow | None:
        return self._alert(self._all("get_alert", {"id": alert_id}))

    def list_alerts(self, query: AlertQuery) -> list[AlertRow]:
        rows = self._all("list_alerts", dict(query.__dict__))
        return [decode_alert(r, _utc, json_native) for r in rows]

    def ack_alert(self, alert_id: int, by: str, at: datetime | None) -> AlertRow | None:
        by_ = by if at is not None else None
        return self._alert(self._all("ack_alert", {"id": alert_id, "by": by_, "at": at}))

    def silence_alert(self, alert_id: int, until: datetime | None) -> AlertRow | None:
        return self._alert(self._all("silence_alert", {"id": alert_id, "until": until}))

    def prune_alerts(self, resolved_before: datetime, limit: int) -> int:
        with self._store._connection() as conn:
            params = {"before": resolved_before, "limit": limit}
            return conn.execute(self.q["prune_alerts"], params).rowcount

    # -- the rules' inputs ----------------------------------------------------------------
    def recent_attempts(
        self,
        *,
        name: str | None = None,
        schedule_id: int | None = None,
        org_id: str | None = None,
        limit: int = 10,
        scan: int = 10_000,
    ) -> list[RecentAttempt]:
        params = {"name": name, "schedule_id": schedule_id, "org_id": org_id}
        params |= {"limit": limit, "scan": scan}
        query = (
            "recent_attempts_of_schedule" if schedule_id is not None else "recent_attempts_of_type"
        )
        return [RecentAttempt(**r) for r in self._all(query, params)]

    # -- rules made through the API -------------------------------------------------------
    def insert_rule(
        self, name: str, org_id: str | None, spec: dict[str, Any], created_by: str | None
    ) -> StoredRule:
        params: dict[str, Any] = {"name": name, "org_id": org_id or "", "spec": Jsonb(spec)}
        params["created_by"] = created_by
        try:
            rows = self._all("insert_rule", params)
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"an alert rule named {name!r} exists") from None
        return decode_rule(rows[0], _utc, json_native)

    def list_rules(self, org_id: str | None = None, *, every: bool = True) -> list[StoredRule]:
        rows = self._all("list_rules", {"org_id": org_id or "", "every": every})
        return [decode_rule(r, _utc, json_native) for r in rows]

    def get_rule(self, name: str, org_id: str | None) -> StoredRule | None:
        rows = self._all("get_rule", {"name": name, "org_id": org_id or ""})
        return decode_rule(rows[0], _utc, json_native) if rows else None

    def update_rule(self, name: str, org_id: str | None, spec: dict[str, Any]) -> StoredRule | None:
        params = {"name": name, "org_id": org_id or "", "spec": Jsonb(spec)}
        rows = self._all("update_rule", params)
        return decode_rule(rows[0], _utc, json_native) if rows else None

    def delete_rule(self, name: str, org_id: str | None) -> bool:
        return bool(self._all("delete_rule", {"name": name, "org_id": org_id or ""}))
