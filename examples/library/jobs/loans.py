"""Loans and holds: loan_reminders (daily, 09:00 library time) and expire_hold (a
one-time delayed job per hold, at the end of its pickup window).

loan_reminders, in one transaction: a reminder for each loan due within ``days_ahead``
(once per loan); for each overdue loan, its fine (``fine_per_day_cents`` a day late,
at most ``max_fine_cents``) and a notice every ``notice_every_days``; a "ready for
pickup" message for each hold that became ready, whose pickup window ends
``pickup_days`` later. Then it schedules an expire_hold job at each window's end and
wakes send_notifications, which e-mails what it queued.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.library.jobs.notifications import MAIL_QUEUE, queue_notification, wake_sender
from hourhand import Hourhand, JobContext, Retry

DAY = timedelta(days=1)


def parse(text: str) -> datetime:
    """A time the domain tables store (ISO 8601, UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def register(hh: Hourhand) -> None:
    @hh.job(
        "loan_reminders",
        queue=MAIL_QUEUE,
        max_attempts=3,
        retry=Retry.fixed([300, 900]),
        timeout=900,
        concurrency=1,
    )
    def loan_reminders(
        ctx: JobContext,
        days_ahead: int = 2,
        fine_per_day_cents: int = 25,
        max_fine_cents: int = 1000,
        notice_every_days: int = 7,
        pickup_days: int = 7,
    ) -> dict[str, int]:
        """Library loan due reminders, overdue fines and notices, holds ready."""
        domain = Domain(hh.database_url)
        sql = domain.sql
        at = now()
        counts = {"due_soon": 0, "overdue": 0, "overdue_notices": 0, "fines_cents": 0}
        ready: list[tuple[int, datetime]] = []
        with domain.connect() as conn:
            soon = conn.execute(
                sql(
                    "SELECT l.id, l.member_id, l.due_at, b.title FROM loans l "
                    "JOIN books b ON b.id = l.book_id WHERE l.returned_at IS NULL "
                    "AND l.reminded_at IS NULL AND l.due_at >= ? AND l.due_at < ? ORDER BY l.id"
                ),
                (iso(at), iso(at + days_ahead * DAY)),
            ).fetchall()
            for loan in soon:
                variables = {"title": loan["title"], "due_date": loan["due_at"][:10]}
                queue_notification(conn, domain, loan["member_id"], "due_soon", variables)
                conn.execute(
                    sql("UPDATE loans SET reminded_at = ? WHERE id = ?"), (iso(at), loan["id"])
                )
            counts["due_soon"] = len(soon)

            late = conn.execute(
                sql(
                    "SELECT l.id, l.member_id, l.due_at, l.overdue_notified_at, b.title "
                    "FROM loans l JOIN books b ON b.id = l.book_id "
                    "WHERE l.returned_at IS NULL AND l.due_at < ? ORDER BY l.id"
                ),
                (iso(at),),
            ).fetchall()
            notice_before = iso(at - notice_every_days * DAY)
            for loan in late:
                days = math.ceil((at - parse(loan["due_at"])) / DAY)
                fine = min(days * fine_per_day_cents, max_fine_cents)
                counts["fines_cents"] += fine
                changes: dict[str, Any] = {"fine_cents": fine, "fine_updated_at": iso(at)}
                notified = loan["overdue_notified_at"]
                if notified is None or notified < notice_before:
                    variables = {
                        "title": loan["title"],
                        "due_date": loan["due_at"][:10],
                        "days_late": days,
                        "fine": money(fine),
                    }
                    queue_notification(conn, domain, loan["member_id"], "overdue", variables)
                    changes["overdue_notified_at"] = iso(at)
                    counts["overdue_notices"] += 1
                sets = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(
                    sql(f"UPDATE loans SET {sets} WHERE id = ?"), (*changes.values(), loan["id"])
                )
            counts["overdue"] = len(late)

            holds = conn.execute(
                sql(
                    "SELECT h.id, h.member_id, b.title FROM holds h "
                    "JOIN books b ON b.id = h.book_id "
                    "WHERE h.status = 'ready' AND h.notified_at IS NULL ORDER BY h.id"
                )
            ).fetchall()
            pickup_by = at + pickup_days * DAY
            for hold in holds:
                variables = {"title": hold["title"], "pickup_by": iso(pickup_by)[:10]}
                queue_notification(conn, domain, hold["member_id"], "hold_ready", variables)
                conn.execute(
                    sql("UPDATE holds SET notified_at = ?, pickup_by = ? WHERE id = ?"),
                    (iso(at), iso(pickup_by), hold["id"]),
                )
                ready.append((int(hold["id"]), pickup_by))
        # after the commit (on SQLite, enqueueing inside it would wait on our own lock)
        for hold_id, deadline in ready:
            hh.enqueue(
                "expire_hold", {"hold_id": hold_id}, run_at=deadline, unique_key=f"hold-{hold_id}"
            )
        counts["holds_ready"] = len(ready)
        if counts["due_soon"] or counts["overdue_notices"] or ready:
            wake_sender(hh)
        return counts

    @hh.job("expire_hold", queue=MAIL_QUEUE, max_attempts=3, retry=Retry.fixed([60, 600]))
    def expire_hold(ctx: JobContext, hold_id: int) -> dict[str, Any]:
        """A hold not collected by the end of its pickup window expires, and the next
        member waiting for the book gets it (loan_reminders tells them)."""
        domain = Domain(hh.database_url)
        sql = domain.sql
        with domain.connect() as conn:
            hold = conn.execute(
                sql("SELECT id, book_id, status, pickup_by FROM holds WHERE id = ?"), (hold_id,)
            ).fetchone()
            if hold is None or hold["status"] != "ready":
                return {"expired": False, "status": None if hold is None else hold["status"]}
            if hold["pickup_by"] is not None and hold["pickup_by"] > iso(now()):
                return {"expired": False, "status": "ready", "pickup_by": hold["pickup_by"]}
            conn.execute(sql("UPDATE holds SET status = 'expired' WHERE id = ?"), (hold_id,))
            following = conn.execute(
                sql(
                    "SELECT id FROM holds WHERE book_id = ? AND status = 'waiting' "
                    "ORDER BY placed_at, id LIMIT 1"
                ),
                (hold["book_id"],),
            ).fetchone()
            if following is not None:
                conn.execute(
                    sql("UPDATE holds SET status = 'ready', ready_at = ? WHERE id = ?"),
                    (iso(now()), following["id"]),
                )
        return {"expired": True, "next_hold": None if following is None else following["id"]}
