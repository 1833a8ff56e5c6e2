"""budget_alert_worker: every 15 minutes, each active project's budget usage against its
alert thresholds; one alert per (project, type, threshold) while it is active, the tenant's
admins notified once when it opens; an alert raised against an older version of the budget
is updated (still over the threshold) or resolved (no longer) when the budget changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from examples.common.domain import Domain, Row, from_json, iso, now
from examples.construction.audit import log_error
from examples.construction.notify import admins, can_email, email_admins, notify_admins
from hourhand import Hourhand, JobContext

logger = logging.getLogger(__name__)

WORKER = "budget_alert_worker"
THRESHOLD_TYPES = ("hours", "material", "total")
FAILED_PROJECTS_LIMIT = 3  # "alert on errors in 3+ projects": the run fails, and is alerted

EMAIL_SUBJECT = "Budget alert: {{ project }} has used {{ current }}% of its {{ type }} budget"
EMAIL_TEXT = """\
The project {{ project }} has used {{ current }}% of its {{ type }} budget
(the alert threshold is {{ threshold }}%).

Open the project's budget page to see the details.
"""


class BudgetCheckFailed(RuntimeError):
    """Too many projects could not be checked (each one's error is in audit_logs)."""


@dataclass(frozen=True)
class Threshold:
    type: str  # 'hours', 'material' or 'total'
    percentage: float
    notify: bool


@dataclass(frozen=True)
class Usage:
    """What get_budget_usage() returns: each kind of cost as a percentage of its budget."""

    hours_percentage: float
    material_percentage: float
    total_percentage: float

    def percentage(self, kind: str) -> float:
        if kind == "hours":
            return self.hours_percentage
        if kind == "material":
            return self.material_percentage
        return self.total_percentage


@dataclass
class Tally:
    projects: int = 0
    created: int = 0
    updated: int = 0
    resolved: int = 0
    notified: int = 0
    failed: int = 0
    emails: int = 0


def check_budgets(ctx: JobContext, domain: Domain, hh: Hourhand) -> dict[str, int]:
    """The whole run: every active project with a budget (projects without one are not
    joined), each in a transaction of its own; a project that fails is logged to
    audit_logs and the others go on. Returns the counts; raises BudgetCheckFailed when
    FAILED_PROJECTS_LIMIT or more projects failed (the job is then retried, and alerted)."""
    tally = Tally()
    budgets = domain.query(
        "SELECT pb.*, p.tenant_id, p.name AS project_name"
        " FROM project_budgets pb JOIN projects p ON pb.project_id = p.id"
        " WHERE p.status = 'active' ORDER BY p.id"
    )
    for i, budget in enumerate(budgets, 1):
        tally.projects += 1
        try:
            check_project(domain, budget, tally)
        except Exception as exc:
            tally.failed += 1
            ctx.logger.warning("project %s: %s", budget["project_id"], type(exc).__name__)
            log_error(
                domain,
                worker=WORKER,
                tenant_id=budget["tenant_id"],
                table_name="projects",
                record_id=budget["project_id"],
                error=exc,
            )
        ctx.progress(100 * i // len(budgets), f"{i} of {len(budgets)} projects")
    tally.emails = send_emails(domain, hh)
    if tally.failed >= FAILED_PROJECTS_LIMIT:
        raise BudgetCheckFailed(
            f"{tally.failed} of {tally.projects} projects could not be checked (see audit_logs)"
        )
    return vars(tally)


def check_project(domain: Domain, budget: Row, tally: Tally) -> None:
    """One project: its usage, its active alerts against a changed budget, its thresholds."""
    thresholds = parse_thresholds(from_json(budget["alert_thresholds"]))
    stamp = iso(now())
    with domain.connect() as conn:
        usage = get_budget_usage(domain, conn, budget)
        # "Budget updated after an alert: update the alert or mark it resolved"
        stale = conn.execute(
            domain.sql(
                "SELECT id, alert_type, threshold_percentage FROM budget_alerts"
                " WHERE project_id = ? AND status = 'active' AND budget_updated_at <> ?"
            ),
            (budget["project_id"], budget["updated_at"]),
        ).fetchall()
        for alert in stale:
            current = usage.percentage(alert["alert_type"])
            still = any(
                t.notify
                and t.type == alert["alert_type"]
                and t.percentage == alert["threshold_percentage"]
                and current >= t.percentage
                for t in thresholds
            )
            if still:
                conn.execute(
                    domain.sql(
                        "UPDATE budget_alerts SET current_percentage = ?, budget_updated_at = ?,"
                        " updated_at = ? WHERE id = ?"
                    ),
                    (current, budget["updated_at"], stamp, alert["id"]),
                )
                tally.updated += 1
            else:
                conn.execute(
                    domain.sql(
                        "UPDATE budget_alerts SET status = 'resolved', resolved_at = ?,"
                        " updated_at = ? WHERE id = ?"
                    ),
                    (stamp, stamp, alert["id"]),
                )
                tally.resolved += 1
        # "Several thresholds at once: separate alerts"
        for threshold in thresholds:
            if not threshold.notify:
                continue
            current = usage.percentage(threshold.type)
            if current < threshold.percentage:
                continue
            if create_budget_alert(domain, conn, budget, threshold, current, stamp):
                tally.created += 1
                tally.notified += notify_admins(
                    domain,
                    conn,
                    budget["tenant_id"],
                    "budget_alert",
                    {
                        "project_id": budget["project_id"],
                        "alert_type": threshold.type,
                        "threshold": threshold.percentage,
                        "current": current,
                    },
                )


def parse_thresholds(value: Any) -> list[Threshold]:
    """The budget's alert_thresholds, checked: a list of {type, percentage, notify}."""
    if not isinstance(value, list):
        raise ValueError("alert_thresholds is not a list")
    thresholds = []
    for item in value:
        kind = item.get("type") if isinstance(item, dict) else None
        percentage = item.get("percentage") if isinstance(item, dict) else None
        if kind not in THRESHOLD_TYPES or not isinstance(percentage, int | float):
            raise ValueError(f"alert_thresholds: bad entry {item!r}")
        thresholds.append(Threshold(kind, float(percentage), bool(item.get("notify", True))))
    return thresholds


def get_budget_usage(domain: Domain, conn: Any, budget: Row) -> Usage:
    """Hours reported and material bought, as percentages of the budget (a zero budget
    of a kind counts as none: 0%)."""
    project_id = budget["project_id"]
    row = conn.execute(
        domain.sql(
            "SELECT (SELECT COALESCE(SUM(hours), 0) FROM time_entries WHERE project_id = ?)"
            " AS hours,"
            " (SELECT COALESCE(SUM(amount), 0) FROM material_entries WHERE project_id = ?)"
            " AS material"
        ),
        (project_id, project_id),
    ).fetchone()
    hours, material = float(row["hours"]), float(row["material"])
    total = hours * float(budget["hourly_rate"]) + material
    return Usage(
        hours_percentage=_percent(hours, float(budget["hours_budget"])),
        material_percentage=_percent(material, float(budget["material_budget"])),
        total_percentage=_percent(total, float(budget["total_budget"])),
    )


def create_budget_alert(
    domain: Domain, conn: Any, budget: Row, threshold: Threshold, current: float, stamp: str
) -> bool:
    """An active alert, unless one exists for (project, type, threshold): the partial
    unique index decides, so two runs at once cannot both create it. True if created."""
    row = conn.execute(
        domain.sql(
            "INSERT INTO budget_alerts (tenant_id, project_id, alert_type,"
            " threshold_percentage, current_percentage, status, budget_updated_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?)"
            " ON CONFLICT (project_id, alert_type, threshold_percentage)"
            " WHERE status = 'active' DO NOTHING RETURNING id"
        ),
        (
            budget["tenant_id"],
            budget["project_id"],
            threshold.type,
            threshold.percentage,
            current,
            budget["updated_at"],
            stamp,
            stamp,
        ),
    ).fetchone()
    return row is not None


def send_emails(domain: Domain, hh: Hourhand) -> int:
    """The admins' e-mail of each active alert not e-mailed yet (an outbox: the alert row
    and its e-mail are in two databases' worth of transactions, so the e-mail is enqueued
    after the alert is committed, and marked; a crash in between enqueues it again, and
    its unique key keeps that from doubling a waiting e-mail). Without an SMTP server the
    alerts wait, unmarked, with their in-app notifications."""
    pending = domain.query(
        "SELECT a.id, a.tenant_id, a.alert_type, a.threshold_percentage,"
        " a.current_percentage, p.name AS project_name"
        " FROM budget_alerts a JOIN projects p ON a.project_id = p.id"
        " WHERE a.status = 'active' AND a.emailed_at IS NULL ORDER BY a.id"
    )
    if not pending:
        return 0
    if not can_email(hh):
        logger.info("no SMTP server: %d budget alert e-mail(s) wait", len(pending))
        return 0
    sent = 0
    for alert in pending:
        with domain.connect() as conn:
            to = [a["email"] for a in admins(domain, conn, alert["tenant_id"])]
        if to:
            email_admins(
                hh,
                to,
                subject=EMAIL_SUBJECT,
                text=EMAIL_TEXT,
                variables={
                    "project": alert["project_name"],
                    "type": alert["alert_type"],
                    "threshold": _number(alert["threshold_percentage"]),
                    "current": _number(alert["current_percentage"]),
                },
                unique_key=f"budget-alert-{alert['id']}",
            )
            sent += 1
        domain.execute(
            "UPDATE budget_alerts SET emailed_at = ? WHERE id = ?", (iso(now()), alert["id"])
        )
    return sent


def _percent(used: float, budget: float) -> float:
    return round(100 * used / budget, 1) if budget > 0 else 0.0


def _number(value: float) -> str:
    """80.0 as '80', 83.5 as '83.5'."""
    return f"{value:g}"
