"""The alerts facet (alerts, their history, API rules) of the SQLite store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from hourhand.store.rows import datetime_to_epoch, epoch_to_datetime, json_text

if TYPE_CHECKING:
    from hourhand.store.sqlite import SQLiteStore


def _epochs(params: dict[str, Any]) -> dict[str, Any]:
    return {k: datetime_to_epoch(v) if isinstance(v, datetime) else v for k, v in params.items()}


class SQLiteAlerts(AlertRecords):
    """Reads on the store's connections, writes in its write transactions."""

    def __init__(self, store: SQLiteStore, now_sql: str) -> None:
        self._store = store
        queries = load_queries("sqlite", "alerts.sql")
        self.q = {k: v.replace("NOW()", now_sql) for k, v in queries.items()}

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._store._read(self.q[query], _epochs(params))

    def _write(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._store._write() as conn:
            return conn.execute(self.q[query], _epochs(params)).fetchall()

    def _alert(self, rows: list[dict[str, Any]]) -> AlertRow | None:
        return decode_alert(rows[0], epoch_to_datetime, json_text) if rows else None

    # -- alerts ---------------------------------------------------------------------------
    def open_alerts(self) -> list[AlertRow]:
        return [
            decode_alert(r, epoch_to_datetime, json_text) for r in self._read("open_alerts", {})
        ]

    def insert_alert(
        self, alert: NewAlert, at: datetime, notify: Sequence[NewJob] = ()
    ) -> AlertRow | None:
        params = insert_params(alert, at, len(notify), datetime_to_epoch)
        params["details"] = json.dumps(alert.details)
        with self._store._write() as conn:
            row = conn.execute(self.q["insert_alert"], params).fetchone()
            if row is None:
                return None
            for job in notify:
                self._store._insert(conn, job)
        return decode_alert(row, epoch_to_datetime, json_text)

    def change_alert(
        self,
        alert_id: int,
        expect: dict[str, Any],
        values: dict[str, Any],
        notify: Sequence[NewJob] = (),
    ) -> bool:
        sql, params = change_sql(alert_id, expect, values, len(notify), ":{}", "IS")
        if "details" in params:
            params["details"] = json.dumps(params["details"])
        with self._store._write() as conn:
            if conn.execute(sql, _epochs(params)).fetchone() is None:
                return False
            for job in notify:
                self._store._insert(conn, job)
        return True

    def get_alert(self, alert_id: int) -> AlertRow | None:
        return self._alert(self._read("get_alert", {"id": alert_id}))

    def list_alerts(self, query: AlertQuery) -> list[AlertRow]:
        rows = self._read("list_alerts", dict(query.__dict__))
        return [decode_alert(r, epoch_to_datetime, json_text) for r in rows]

    def ack_alert(self, alert_id: int, by: str, at: datetime | None) -> AlertRow | None:
        by_ = by if at is not None else None
        return self._alert(self._write("ack_alert", {"id": alert_id, "by": by_, "at": at}))

    def silence_alert(self, alert_id: int, until: datetime | None) -> AlertRow | None:
        return self._alert(self._write("silence_alert", {"id": alert_id, "until": until}))

    def prune_alerts(self, resolved_before: datetime, limit: int) -> int:
        with self._store._write() as conn:
            params = _epochs({"before": resolved_before, "limit": limit})
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
        rows = self._read(query, params)
        return [
            RecentAttempt(**{**r, "finished_at": epoch_to_datetime(r["finished_at"])}) for r in rows
        ]

    # -- rules made through the API -------------------------------------------------------
    def insert_rule(
        self, name: str, org_id: str | None, spec: dict[str, Any], created_by: str | None
    ) -> StoredRule:
        params: dict[str, Any] = {"name": name, "org_id": org_id or "", "spec": json.dumps(spec)}
        params["created_by"] = created_by
        try:
            rows = self._write("insert_rule", params)
        except sqlite3.IntegrityError:
            raise Conflict(f"an alert rule named {name!r} exists") from None
        return decode_rule(rows[0], epoch_to_datetime, json_text)

    def list_rules(self, org_id: str | None = None, *, every: bool = True) -> list[StoredRule]:
        rows = self._read("list_rules", {"org_id": org_id or "", "every": every})
        return [decode_rule(r, epoch_to_datetime, json_text) for r in rows]

    def get_rule(self, name: str, org_id: str | None) -> StoredRule | None:
        rows = self._read("get_rule", {"name": name, "org_id": org_id or ""})
        return decode_rule(rows[0], epoch_to_datetime, json_text) if rows else None

    def update_rule(self, name: str, org_id: str | None, spec: dict[str, Any]) -> StoredRule | None:
        params = {"name": name, "org_id": org_id or "", "spec": json.dumps(spec)}
        rows = self._write("update_rule", params)
        return decode_rule(rows[0], epoch_to_datetime, json_text) if rows else None

    def delete_rule(self, name: str, org_id: str | None) -> bool:
        return bool(self._write("delete_rule", {"name": name, "org_id": org_id or ""}))
