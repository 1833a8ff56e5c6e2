"""analytics-snapshot (daily at 23:59): the day's metrics per tenant, one
``daily_snapshot`` row of ``analytics_snapshots`` per tenant and day, with anomalies
(a metric more than 30% off its 7-day average) flagged.

The snapshot's date is the schedule's fire time in the tenant's zone, so a run caught up
after midnight (misfire ``once``) still files the day it stands for; running it again the
same day replaces that day's row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from examples.common.domain import Domain, iso
from examples.gst.db import OPEN, Tenant, from_json, new_id, rows, to_json
from examples.gst.execution import Results, Run

METRIC_TYPE = "daily_snapshot"
ANOMALY = 0.30  # deviation from the 7-day average that counts as an anomaly
HISTORY_DAYS = 7
METRICS = (
    "case_count",
    "task_completion_rate",
    "sla_compliance_rate",
    "hearing_attendance_rate",
    "document_count",
    "overdue_tasks",
)


def analytics_snapshot(run: Run, tenant: Tenant) -> Results:
    db = run.db
    day = run.at.astimezone(tenant.zone).date()
    with db.connect() as conn:
        value: dict[str, Any] = measure(conn, db, tenant.id, run.now)
        history = _history(conn, run, tenant, day)
        anomalies = [
            name
            for name in METRICS
            if (average := _average(history, name))
            and abs(value[name] - average) / average > ANOMALY
        ]
        value["anomaly_detected"] = bool(anomalies)
        value["anomalies"] = anomalies
        conn.execute(
            db.sql(
                "DELETE FROM analytics_snapshots"
                " WHERE tenant_id = ? AND metric_type = ? AND snapshot_date = ?"
            ),
            (tenant.id, METRIC_TYPE, day.isoformat()),
        )
        conn.execute(
            db.sql(
                "INSERT INTO analytics_snapshots"
                " (id, tenant_id, metric_type, snapshot_date, metric_value, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
            ),
            (new_id(), tenant.id, METRIC_TYPE, day.isoformat(), to_json(value), iso(run.now)),
        )
    return {
        "snapshots": 1,
        "snapshotDate": day.isoformat(),
        "anomalies": len(anomalies),
        "metrics": value,
    }


def measure(conn: Any, db: Domain, tenant_id: str, at: datetime) -> dict[str, Any]:
    """The seed's six metrics of a tenant at ``at``."""
    now, t = iso(at), tenant_id

    def count(sql: str, *params: Any) -> int:
        return int(rows(conn, db, f"SELECT COUNT(*) AS n {sql}", (t, *params))[0]["n"])

    tasks = count("FROM tasks WHERE tenant_id = ? AND status <> 'Cancelled'")
    completed = count("FROM tasks WHERE tenant_id = ? AND status = 'Completed'")
    on_time = count(  # done by its due date, or open and not yet due
        "FROM tasks WHERE tenant_id = ? AND ((status = 'Completed' AND completed_at <= due_date)"
        " OR (status NOT IN (?, ?) AND due_date >= ?))",
        *OPEN,
        now,
    )
    held = count(  # hearings whose date has passed, but for cancelled ones
        "FROM hearings WHERE tenant_id = ? AND hearing_date < ? AND status <> 'Cancelled'", now
    )
    attended = count(
        "FROM hearings WHERE tenant_id = ? AND hearing_date < ? AND status = 'Attended'", now
    )
    return {
        "case_count": count("FROM cases WHERE tenant_id = ? AND status = 'Active'"),
        "task_completion_rate": _rate(completed, tasks),
        "sla_compliance_rate": _rate(on_time, tasks),
        "hearing_attendance_rate": _rate(attended, held),
        "document_count": count("FROM documents WHERE tenant_id = ?"),
        "overdue_tasks": count(
            "FROM tasks WHERE tenant_id = ? AND due_date < ? AND status NOT IN (?, ?)", now, *OPEN
        ),
    }


def _history(conn: Any, run: Run, tenant: Tenant, day: date) -> list[dict[str, Any]]:
    """The tenant's snapshots of the 7 days before ``day``."""
    found = rows(
        conn,
        run.db,
        "SELECT metric_value FROM analytics_snapshots WHERE tenant_id = ? AND metric_type = ?"
        " AND snapshot_date >= ? AND snapshot_date < ?",
        (tenant.id, METRIC_TYPE, (day - timedelta(days=HISTORY_DAYS)).isoformat(), day.isoformat()),
    )
    return [from_json(r["metric_value"]) for r in found]


def _average(history: list[dict[str, Any]], name: str) -> float:
    values = [float(h[name]) for h in history if isinstance(h.get(name), int | float)]
    return sum(values) / len(values) if values else 0.0


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0
