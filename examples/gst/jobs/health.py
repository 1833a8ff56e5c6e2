"""automation-health-check (daily at 07:00): success and failure rates of the automation
rules over the last 24 hours, rules degraded (over 20% failures) or inactive (not run in
48 hours), and an e-mail to the tenant's admins when anything crosses the seed's
thresholds:

- CRITICAL: a rule's success rate under 80%;
- WARNING: a rule inactive for more than 48 hours;
- INFO: the tenant's overall success rate under 95%.

The metrics are the seed's ``HealthMetrics``; they are the run's result and its
``audit_log`` details. An admin gets one such e-mail a day (``notification_log``).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from examples.common.domain import iso
from examples.gst.db import Tenant, insert_rows, rows
from examples.gst.execution import Results, Run
from examples.gst.notify import app_url

KIND = "automation_health"  # notification_log.kind
DEGRADED = 0.20  # failure rate over which a rule is degraded (CRITICAL: success under 80%)
SYSTEM_OK = 0.95  # overall success rate under which admins are told (INFO)
INACTIVE = timedelta(hours=48)
WINDOW = timedelta(hours=24)


def automation_health_check(run: Run, tenant: Tenant) -> Results:
    db, now = run.db, run.now
    with db.connect() as conn:
        logs = rows(
            conn,
            db,
            "SELECT rule_id, rule_name, status FROM automation_logs"
            " WHERE tenant_id = ? AND executed_at >= ?",
            (tenant.id, iso(now - WINDOW)),
        )
        rules = rows(
            conn,
            db,
            "SELECT r.id, r.name, MAX(l.executed_at) AS last_run FROM automation_rules r"
            " LEFT JOIN automation_logs l ON l.rule_id = r.id"
            " WHERE r.tenant_id = ? AND r.is_active = 1 GROUP BY r.id, r.name ORDER BY r.name",
            (tenant.id,),
        )
    metrics = health_metrics(logs, rules, iso(now - INACTIVE))
    alerts = _alerts(metrics)
    notified = _notify(run, tenant, metrics, alerts) if alerts else 0
    return {
        "totalExecutions": metrics["total_executions"],
        "successfulExecutions": metrics["successful_executions"],
        "failedExecutions": metrics["failed_executions"],
        "successRate": metrics["success_rate"],
        "inactiveRules": metrics["inactive_rules"],
        "degradedRules": metrics["degraded_rules"],
        "alerts": alerts,
        "adminsNotified": notified,
    }


def health_metrics(
    logs: list[dict[str, Any]], rules: list[dict[str, Any]], inactive_before: str
) -> dict[str, Any]:
    """The seed's HealthMetrics of these log rows and active rules."""
    runs: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    names: dict[str, str] = {}
    for log in logs:
        rule = log["rule_id"] or ""
        runs[rule] += 1
        failed[rule] += log["status"] != "success"
        names[rule] = log["rule_name"] or rule
    total, failures = sum(runs.values()), sum(failed.values())
    return {
        "total_executions": total,
        "successful_executions": total - failures,
        "failed_executions": failures,
        "success_rate": round((total - failures) / total, 4) if total else 1.0,
        "inactive_rules": [
            r["name"] for r in rules if r["last_run"] is None or r["last_run"] < inactive_before
        ],
        "degraded_rules": [
            {"rule_id": rule, "rule_name": names[rule], "failure_rate": round(failed[rule] / n, 4)}
            for rule, n in sorted(runs.items())
            if failed[rule] / n > DEGRADED
        ],
    }


def _alerts(metrics: dict[str, Any]) -> list[dict[str, str]]:
    alerts = [
        {
            "level": "CRITICAL",
            "message": f"rule {d['rule_name']!r} succeeded in only "
            f"{100 * (1 - d['failure_rate']):.0f}% of its runs in the last 24 hours",
        }
        for d in metrics["degraded_rules"]
    ]
    alerts += [
        {"level": "WARNING", "message": f"rule {name!r} has not run for over 48 hours"}
        for name in metrics["inactive_rules"]
    ]
    if metrics["total_executions"] and metrics["success_rate"] < SYSTEM_OK:
        alerts.append(
            {
                "level": "INFO",
                "message": f"overall success rate {100 * metrics['success_rate']:.1f}% (under 95%)",
            }
        )
    return alerts


def _notify(run: Run, tenant: Tenant, metrics: dict[str, Any], alerts: list[dict[str, str]]) -> int:
    db, now = run.db, run.now
    today = now.astimezone(tenant.zone).date().isoformat()
    with db.connect() as conn:
        admins = rows(
            conn,
            db,
            "SELECT p.id, p.email FROM profiles p WHERE p.tenant_id = ? AND p.role = 'admin'"
            " AND NOT EXISTS (SELECT 1 FROM notification_log n WHERE n.tenant_id = p.tenant_id"
            " AND n.user_id = p.id AND n.kind = ? AND n.sent_on = ?) ORDER BY p.id",
            (tenant.id, KIND, today),
        )
    if not admins or run.outbox.left < 1:  # one e-mail to all of them
        return 0
    worst = alerts[0]["level"]
    run.outbox.email(
        [
            {
                "to": [a["email"] for a in admins],
                "subject": f"[{worst}] Automation health: {{{{ firm }}}}",
                "text_file": "automation_health.txt",
                "variables": {
                    "firm": tenant.name,
                    "alerts": alerts,
                    "metrics": {k: v for k, v in metrics.items() if k != "degraded_rules"},
                    "link": f"{app_url()}/automation/logs",
                },
            }
        ]
    )
    with db.connect() as conn:
        insert_rows(
            conn,
            db,
            "notification_log",
            (
                {
                    "tenant_id": tenant.id,
                    "user_id": a["id"],
                    "kind": KIND,
                    "sent_on": today,
                    "created_at": iso(now),
                }
                for a in admins
            ),
        )
    return len(admins)
