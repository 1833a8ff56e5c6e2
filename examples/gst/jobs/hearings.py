"""send-hearing-reminders (daily at 08:00): e-mail the case owner and the assigned advocate
about each hearing of today and tomorrow, WhatsApp them too where the tenant has it on,
and mark the hearing so that it is reminded once.

"Today and tomorrow" are the tenant's (its time zone): from now to the end of tomorrow
there. A run takes at most 100 hearings, one e-mail each (the run's budget,
:mod:`examples.gst.notify`), shared evenly among the tenants; each tenant's earliest go
first, and the rest wait for the next run (or a run by hand).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from examples.common.domain import iso
from examples.gst.db import Tenant, marks, parse_time, rows
from examples.gst.execution import Results, Run
from examples.gst.notify import app_url, long_time

BATCH = 100  # hearings per run (the seed's .limit(100))
CHECKLIST = [
    "Case file and index of documents",
    "Copies of the show cause notice, reply and personal hearing notice",
    "Vakalatnama / authorisation letter",
    "Written submissions and case law relied on",
    "GSTR returns and reconciliation for the disputed period",
]


def send_hearing_reminders(run: Run, tenant: Tenant) -> Results:
    db, now = run.db, run.now
    until = end_of_tomorrow(now, tenant)
    due = (
        "h.tenant_id = ? AND h.hearing_date >= ? AND h.hearing_date <= ?"
        " AND h.status = 'Scheduled' AND h.reminder_sent_at IS NULL"
    )
    params = (tenant.id, iso(now), iso(until))
    with db.connect() as conn:
        found = int(
            rows(conn, db, f"SELECT COUNT(*) AS n FROM hearings h WHERE {due}", params)[0]["n"]
        )
        hearings = rows(
            conn,
            db,
            "SELECT h.id, h.hearing_date, c.case_number, c.title, c.owner_id, c.assigned_to,"
            " ct.name AS court_name, ct.city AS court_city FROM hearings h"
            " JOIN cases c ON c.id = h.case_id JOIN courts ct ON ct.id = h.court_id"
            f" WHERE {due} ORDER BY h.hearing_date, h.id LIMIT ?",
            (*params, min(BATCH, run.share())),
        )
        people = _people(conn, run, hearings)
    emails, whatsapp, reminded = [], [], []
    for hearing in hearings:
        recipients = [people[p] for p in _unique(hearing["owner_id"], hearing["assigned_to"])]
        if not recipients:
            continue
        reminded.append(hearing["id"])
        variables = _variables(hearing, recipients, tenant)
        emails.append(
            {
                "to": [r["email"] for r in recipients],
                "subject": "Hearing Reminder: {{ case_number }} - {{ court_name }}",
                "text_file": "hearing_reminder.txt",
                "html_file": "hearing_reminder.html",
                "variables": variables,
            }
        )
        if tenant.whatsapp_enabled:
            whatsapp += [
                {"to": r["phone"], "template": "hearing_reminder", "data": variables}
                for r in recipients
                if r["phone"]
            ]
    with db.connect() as conn:  # the marks and the messages commit together
        conn.cursor().executemany(
            db.sql("UPDATE hearings SET reminder_sent_at = ? WHERE id = ?"),
            [(iso(now), hearing_id) for hearing_id in reminded],
        )
        run.outbox.email(emails, connection=conn)
        sent_whatsapp = run.outbox.whatsapp_messages(whatsapp, connection=conn)
    return {
        "hearingsFound": found,
        "remindersSent": len(emails),
        "whatsappSent": len(sent_whatsapp),
        "deferred": found - len(hearings),
    }


def end_of_tomorrow(now: datetime, tenant: Tenant) -> datetime:
    """The last instant of tomorrow in the tenant's zone."""
    tomorrow = now.astimezone(tenant.zone).date() + timedelta(days=1)
    end = datetime.combine(tomorrow, time(23, 59, 59, 999999), tenant.zone)
    return end.astimezone(now.tzinfo)


def _people(conn: Any, run: Run, hearings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The owners and advocates of these hearings' cases, by id."""
    ids = sorted({p for h in hearings for p in (h["owner_id"], h["assigned_to"]) if p})
    if not ids:
        return {}
    sql = f"SELECT id, full_name, email, phone FROM profiles WHERE id IN ({marks(ids)})"
    return {p["id"]: p for p in rows(conn, run.db, sql, ids)}


def _unique(*ids: str | None) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def _variables(
    hearing: dict[str, Any], recipients: list[dict[str, Any]], tenant: Tenant
) -> dict[str, Any]:
    return {
        "case_number": hearing["case_number"],
        "case_title": hearing["title"],
        "court_name": hearing["court_name"],
        "court_city": hearing["court_city"],
        "hearing_time": long_time(parse_time(hearing["hearing_date"]), tenant.zone),
        "recipients": ", ".join(r["full_name"] for r in recipients),
        "firm": tenant.name,
        "checklist": CHECKLIST,
        "link": f"{app_url()}/hearings/{hearing['id']}",
    }
