"""check-sla-and-overdue (every 15 minutes): flag overdue tasks and SLA breaches, emit
``task_overdue`` and ``sla_violation`` to the automation rules, log each in ``audit_log``.

The seed's query, per tenant: tasks with ``due_date < now - 15 minutes`` that are not
completed. A task is flagged once (``is_overdue``, ``sla_breached``), so each event is
emitted once however often the check runs. SLA thresholds are per priority
(``sla_policies``): an open task older than its priority's hours breaches.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from examples.common.domain import iso
from examples.gst.automation import SLA_VIOLATION, TASK_OVERDUE, emit
from examples.gst.db import (
    OPEN,
    SERVICE_ROLE,
    Tenant,
    insert_rows,
    new_id,
    parse_time,
    rows,
    to_json,
)
from examples.gst.execution import Results, Run

logger = logging.getLogger(__name__)

OVERDUE_GRACE = timedelta(minutes=15)  # the seed's overdueThreshold


def check_sla_and_overdue(run: Run, tenant: Tenant) -> Results:
    db, now = run.db, run.now
    threshold = iso(now - OVERDUE_GRACE)
    with db.connect() as conn:
        overdue = rows(
            conn,
            db,
            "SELECT id, case_id, priority, due_date, is_overdue FROM tasks"
            " WHERE tenant_id = ? AND due_date < ? AND status NOT IN (?, ?)",
            (tenant.id, threshold, *OPEN),
        )
        policies = {
            r["priority"]: int(r["hours"])
            for r in rows(
                conn,
                db,
                "SELECT priority, hours FROM sla_policies WHERE tenant_id = ?",
                (tenant.id,),
            )
        }
        unbreached = rows(
            conn,
            db,
            "SELECT id, priority, created_at FROM tasks"
            " WHERE tenant_id = ? AND status NOT IN (?, ?) AND sla_breached = 0",
            (tenant.id, *OPEN),
        )
        newly_overdue = [t for t in overdue if not t["is_overdue"]]
        violations = []
        for task in unbreached:
            hours = policies.get(task["priority"])
            age = now - parse_time(task["created_at"])
            if hours is not None and age > timedelta(hours=hours):
                violations.append((task, hours, age))
        for task in overdue:  # the seed's console line per overdue task (ids only: no PII)
            logger.info("tenant %s: task %s is overdue", tenant.id, task["id"])
        _flag(conn, run, "is_overdue = 1, overdue_since = ?", [t["id"] for t in newly_overdue])
        _flag(conn, run, "sla_breached = 1", [t["id"] for t, _, _ in violations])
        overdue_events = [
            {
                "task_id": t["id"],
                "case_id": t["case_id"],
                "days_overdue": (now - parse_time(t["due_date"])).days,
                "priority": t["priority"],
            }
            for t in newly_overdue
        ]
        sla_events = [
            {
                "task_id": t["id"],
                "sla_threshold": hours,
                "actual_time": round(age.total_seconds() / 3600, 1),
            }
            for t, hours, age in violations
        ]
        triggered = emit(conn, db, tenant.id, TASK_OVERDUE, overdue_events)
        triggered += emit(conn, db, tenant.id, SLA_VIOLATION, sla_events)
        at = iso(now)
        insert_rows(
            conn,
            db,
            "audit_log",
            [_violation(tenant, TASK_OVERDUE, e, at) for e in overdue_events]
            + [_violation(tenant, SLA_VIOLATION, e, at) for e in sla_events],
        )
    return {
        "overdueTasks": len(overdue),
        "newlyOverdue": len(newly_overdue),
        "slaViolations": len(violations),
        "rulesTriggered": triggered,
    }


def _flag(conn: Any, run: Run, assignments: str, ids: list[str]) -> None:
    params: tuple[Any, ...] = (iso(run.now),) if "?" in assignments else ()
    conn.cursor().executemany(
        run.db.sql(f"UPDATE tasks SET {assignments} WHERE id = ?"),
        [(*params, task_id) for task_id in ids],
    )


def _violation(tenant: Tenant, action: str, event: dict[str, Any], at: str) -> dict[str, Any]:
    """An ``audit_log`` row of one violation (the seed: "Logs all violations")."""
    return {
        "id": new_id(),
        "tenant_id": tenant.id,
        "action_type": action,
        "entity_type": "task",
        "entity_id": event["task_id"],
        "user_id": SERVICE_ROLE,
        "details": to_json({"job_name": "check-sla-and-overdue", **event}),
        "timestamp": at,
    }
