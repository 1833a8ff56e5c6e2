"""WeeklySummaryEmail: every Monday, each user who asked for it gets last week's activity
(the seed's ``WeeklySummary``), rendered from ``emails/weekly_summary.txt``."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.homes.app import db, hh
from examples.homes.jobs.common import json_value
from examples.homes.mail import send_email
from hourhand import JobContext

WEEK = timedelta(days=7)
DAY = timedelta(days=1)
APP_URL_ENV = "HOMES_APP_URL"
DEFAULT_APP_URL = "https://mujdomecek.cz"


def czech_date(moment: datetime) -> str:
    return f"{moment.day}. {moment.month}. {moment.year}"


def _count(conn: Any, d: Domain, sql: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(d.sql(sql), params).fetchone()
    return int(row["n"])


def weekly_summary(
    conn: Any, d: Domain, user: dict[str, Any], start: datetime, end: datetime, expiring: datetime
) -> dict[str, Any]:
    """The seed's ``WeeklySummary`` of one user for [start, end)."""
    uid, since, until = user["id"], iso(start), iso(end)
    mine = (uid, since, until)
    my_activity = {
        "zaznamyCreated": _count(
            conn,
            d,
            "SELECT COUNT(*) AS n FROM zaznamy WHERE author_id = ?"
            " AND created_at >= ? AND created_at < ?",
            mine,
        ),
        "zaznamyUpdated": _count(
            conn,
            d,
            "SELECT COUNT(*) AS n FROM zaznamy WHERE author_id = ?"
            " AND updated_at >= ? AND updated_at < ? AND created_at < ?",
            (*mine, since),
        ),
        "documentsUploaded": _count(
            conn,
            d,
            "SELECT COUNT(*) AS n FROM documents WHERE uploaded_by = ?"
            " AND created_at >= ? AND created_at < ?",
            mine,
        ),
        "commentsAdded": _count(
            conn,
            d,
            "SELECT COUNT(*) AS n FROM comments WHERE author_id = ?"
            " AND created_at >= ? AND created_at < ?",
            mine,
        ),
    }
    shared = "SELECT property_id FROM property_members WHERE user_id = ?"
    new_zaznamy = conn.execute(
        d.sql(
            "SELECT p.name AS property, COUNT(*) AS count FROM zaznamy z"
            " JOIN properties p ON p.id = z.property_id"
            f" WHERE z.property_id IN ({shared}) AND z.author_id <> ? AND z.is_deleted = 0"
            " AND z.created_at >= ? AND z.created_at < ? GROUP BY p.id, p.name ORDER BY p.name"
        ),
        (uid, *mine),
    ).fetchall()
    new_comments = conn.execute(
        d.sql(
            "SELECT z.title AS zaznam, u.name AS author FROM comments c"
            " JOIN zaznamy z ON z.id = c.zaznam_id JOIN users u ON u.id = c.author_id"
            f" WHERE z.property_id IN ({shared}) AND c.author_id <> ?"
            " AND c.created_at >= ? AND c.created_at < ? ORDER BY c.created_at, c.id"
        ),
        (uid, *mine),
    ).fetchall()
    new_members = conn.execute(
        d.sql(
            "SELECT p.name AS property, u.name AS member FROM property_members m"
            " JOIN properties p ON p.id = m.property_id JOIN users u ON u.id = m.user_id"
            f" WHERE m.property_id IN ({shared}) AND m.user_id <> ?"
            " AND m.created_at >= ? AND m.created_at < ? ORDER BY m.created_at, m.id"
        ),
        (uid, *mine),
    ).fetchall()
    drafts = "SELECT COUNT(*) AS n FROM zaznamy WHERE author_id = ? AND status = 'draft'"
    alerts = {
        "pendingDrafts": _count(conn, d, drafts + " AND is_deleted = 0", (uid,)),
        "pendingInvitations": _count(
            conn,
            d,
            "SELECT COUNT(*) AS n FROM invitations WHERE email = ?"
            " AND status = 'pending' AND expires_at >= ?",
            (user["email"], until),
        ),
        "expiringDrafts": _count(
            conn, d, drafts + " AND is_deleted = 0 AND created_at < ?", (uid, iso(expiring))
        ),
    }
    return {
        "user": {"name": user["name"], "email": user["email"]},
        "period": {"from": czech_date(start), "to": czech_date(end)},
        "myActivity": my_activity,
        "sharedActivity": {
            "newZaznamy": [
                {"property": r["property"], "count": int(r["count"])} for r in new_zaznamy
            ],
            "newComments": [dict(r) for r in new_comments],
            "newMembers": [dict(r) for r in new_members],
        },
        "alerts": alerts,
    }


def worth_sending(summary: dict[str, Any]) -> bool:
    """The seed's "Pokud je co reportovat": anything to say at all."""
    shared = summary["sharedActivity"]
    return (
        any(summary["myActivity"].values())
        or any(shared.values())
        or any(summary["alerts"].values())
    )


@hh.job("WeeklySummaryEmail", max_attempts=3)
def weekly_summary_email(
    ctx: JobContext,
    batch_size: int = 100,
    delete_after_days: int = 30,
    expiration_warning_days: int = 7,
) -> dict[str, int]:
    """For the users whose preferences say ``emailWeeklySummary``, ``batch_size`` at a time:
    last week's statistics, and if there is something to report an e-mail job
    (SendEmailJob, template ``weekly_summary``). ``delete_after_days`` and
    ``expiration_warning_days``: which drafts count as expiring (DraftCleanup's and
    DraftReminder's settings)."""
    d = db()
    end = now()
    start = end - WEEK
    expiring = end - (delete_after_days - expiration_warning_days) * DAY
    app_url = os.environ.get(APP_URL_ENV) or DEFAULT_APP_URL
    after, users, sent = 0, 0, 0
    while not ctx.cancelled:
        page = d.query(
            "SELECT id, name, email, preferences FROM users WHERE id > ? ORDER BY id LIMIT ?",
            (after, batch_size),
        )
        if not page:
            break
        after = int(page[-1]["id"])
        wanted = [u for u in page if json_value(u["preferences"]).get("emailWeeklySummary")]
        users += len(wanted)
        with d.connect() as conn:
            summaries = [weekly_summary(conn, d, u, start, end, expiring) for u in wanted]
        for user, summary in zip(wanted, summaries, strict=True):
            if worth_sending(summary):
                send_email(hh, "weekly_summary", user["email"], {**summary, "app_url": app_url})
                sent += 1
    return {"users": users, "sent": sent}
