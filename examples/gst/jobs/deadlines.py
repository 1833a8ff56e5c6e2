"""check-upcoming-deadlines (daily at 09:00): one consolidated e-mail per user with the
tasks and hearings due in the next 24 hours, high and critical priority first, and a
``deadline_approaching`` event per item for the automation rules.

Tasks count for their assignee, hearings for their case's advocate (hearings are always
high priority). A user gets one digest a day (``notification_log``), however often the job
runs. A run sends at most 100 digests (its e-mail budget, shared evenly among the tenants),
users with critical items first; the rest wait for the next run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from examples.common.domain import iso
from examples.gst.automation import DEADLINE_APPROACHING, emit
from examples.gst.db import OPEN, Tenant, insert_rows, marks, parse_time, rows
from examples.gst.execution import Results, Run
from examples.gst.notify import app_url, relative_day

WINDOW = timedelta(hours=24)
KIND = "deadline_digest"  # notification_log.kind
HIGH = ("Critical", "High")


def check_upcoming_deadlines(run: Run, tenant: Tenant) -> Results:
    db, now = run.db, run.now
    start, end = iso(now), iso(now + WINDOW)
    today = now.astimezone(tenant.zone).date().isoformat()
    with db.connect() as conn:
        tasks = rows(
            conn,
            db,
            "SELECT t.id, t.title, t.priority, t.due_date, t.assigned_to, c.case_number"
            " FROM tasks t LEFT JOIN cases c ON c.id = t.case_id"
            " WHERE t.tenant_id = ? AND t.due_date BETWEEN ? AND ? AND t.status NOT IN (?, ?)"
            " AND t.assigned_to IS NOT NULL",
            (tenant.id, start, end, *OPEN),
        )
        hearings = rows(
            conn,
            db,
            "SELECT h.id, h.hearing_date, c.case_number, c.assigned_to, ct.name AS court_name,"
            " ct.city AS court_city FROM hearings h JOIN cases c ON c.id = h.case_id"
            " JOIN courts ct ON ct.id = h.court_id WHERE h.tenant_id = ?"
            " AND h.hearing_date BETWEEN ? AND ? AND h.status = 'Scheduled'"
            " AND c.assigned_to IS NOT NULL",
            (tenant.id, start, end),
        )
        items = _by_user(
            [_task_item(t, now) for t in tasks] + [_hearing_item(h, now) for h in hearings]
        )
        done = {
            r["user_id"]
            for r in rows(
                conn,
                db,
                "SELECT user_id FROM notification_log"
                " WHERE tenant_id = ? AND kind = ? AND sent_on = ?",
                (tenant.id, KIND, today),
            )
        }
        waiting = sorted(
            (u for u in items if u not in done),
            key=lambda u: (
                not any(i["priority"] == "Critical" for i in items[u]),
                items[u][0]["due"],
                u,
            ),
        )
        chosen = waiting[: run.share()]
        users = _users(conn, run, chosen)
    emails = [_digest(users[u], items[u], tenant, now) for u in chosen if u in users]
    with db.connect() as conn:  # the log rows and the e-mails commit together
        run.outbox.email(emails, connection=conn)
        insert_rows(
            conn,
            db,
            "notification_log",
            (
                {
                    "tenant_id": tenant.id,
                    "user_id": u,
                    "kind": KIND,
                    "sent_on": today,
                    "created_at": iso(now),
                }
                for u in chosen
            ),
        )
        events = [
            {"entity_type": i["type"], "entity_id": i["id"], "hours_until_due": i["hours"]}
            for u in chosen
            for i in items[u]
        ]
        triggered = emit(conn, db, tenant.id, DEADLINE_APPROACHING, events)
    return {
        "tasksDue": len(tasks),
        "hearingsDue": len(hearings),
        "usersNotified": len(emails),
        "usersDeferred": len(waiting) - len(chosen),
        "rulesTriggered": triggered,
    }


def _task_item(task: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = parse_time(task["due_date"])
    title = task["title"] + (f" (Case {task['case_number']})" if task["case_number"] else "")
    return {
        "type": "task",
        "id": task["id"],
        "user": task["assigned_to"],
        "priority": task["priority"],
        "title": title,
        "due": due,
        "hours": round((due - now).total_seconds() / 3600, 1),
    }


def _hearing_item(hearing: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = parse_time(hearing["hearing_date"])
    return {
        "type": "hearing",
        "id": hearing["id"],
        "user": hearing["assigned_to"],
        "priority": "High",
        "title": f"{hearing['case_number']} at {hearing['court_name']} {hearing['court_city']}",
        "due": due,
        "hours": round((due - now).total_seconds() / 3600, 1),
    }


def _by_user(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in sorted(items, key=lambda i: (i["due"], i["id"])):
        grouped[item["user"]].append(item)
    return grouped


def _users(conn: Any, run: Run, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    sql = f"SELECT id, full_name, email FROM profiles WHERE id IN ({marks(ids)})"
    return {u["id"]: u for u in rows(conn, run.db, sql, ids)}


def _digest(
    user: dict[str, Any], items: list[dict[str, Any]], tenant: Tenant, now: datetime
) -> dict[str, Any]:
    """The ``hourhand.email`` arguments of one user's digest."""
    base = app_url()

    def line(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "kind": "Task" if item["type"] == "task" else "Hearing",
            "title": item["title"],
            "when": ("Due: " if item["type"] == "task" else "")
            + relative_day(item["due"], tenant.zone, now),
            "critical": item["priority"] == "Critical",
            "link": f"{base}/{item['type']}s/{item['id']}",
        }

    return {
        "to": [user["email"]],
        "subject": "\U0001f4cb Your Upcoming Deadlines (Next 24 Hours)",
        "text_file": "deadline_digest.txt",
        "html_file": "deadline_digest.html",
        "variables": {
            "name": user["full_name"],
            "high": [line(i) for i in items if i["priority"] in HIGH],
            "normal": [line(i) for i in items if i["priority"] not in HIGH],
            "all_link": f"{base}/deadlines",
            "reschedule_link": f"{base}/deadlines?action=reschedule",
            "complete_link": f"{base}/deadlines?action=complete",
        },
    }
