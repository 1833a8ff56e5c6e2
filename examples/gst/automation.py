"""Events the jobs emit to the automation rules (the seed's ``emitTaskOverdue`` and
friends): every active rule of the tenant listening for the event runs its actions, and
each run is a row of ``automation_logs`` (what the health check reads).

The automation engine itself is the GST application's, not this example's: a rule's run
here records its actions as executed, in the same transaction as the job's own changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.gst.db import from_json, insert_rows, new_id, rows, to_json

TASK_OVERDUE = "task_overdue"  # {task_id, case_id, days_overdue, priority}
SLA_VIOLATION = "sla_violation"  # {task_id, sla_threshold, actual_time}
DEADLINE_APPROACHING = "deadline_approaching"  # {entity_type, entity_id, hours_until_due}


def emit(
    conn: Any, db: Domain, tenant_id: str, event: str, payloads: Sequence[Mapping[str, Any]]
) -> int:
    """Run the tenant's active rules for ``event`` once per payload; how many rule runs."""
    if not payloads:
        return 0
    rules = rows(
        conn,
        db,
        "SELECT id, name, actions FROM automation_rules"
        " WHERE tenant_id = ? AND trigger_event = ? AND is_active = 1 ORDER BY name",
        (tenant_id, event),
    )
    at = iso(now())
    return insert_rows(
        conn,
        db,
        "automation_logs",
        (
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "rule_id": rule["id"],
                "rule_name": rule["name"],
                "trigger_event": event,
                "status": "success",
                "actions_executed": to_json(
                    {"actions": from_json(rule["actions"]), "trigger_data": dict(payload)}
                ),
                "error_message": None,
                "executed_at": at,
            }
            for payload in payloads
            for rule in rules
        ),
    )
