"""send_notifications (every 5 minutes): the notification queue.

Other jobs write rows to the ``notifications`` table (the outbox) in their own
transaction; this job hands each pending row to an ``hourhand.email`` job (a template
of ``emails/``, retried with backoff while the mail server is down) and marks it sent.
Two hooks on ``hourhand.email`` mark a row delivered when its e-mail went out, or failed
when it never did (the dead-letter set, which the ``job-failed`` alert watches).
"""

from __future__ import annotations

import json
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.library.settings import LIBRARY_NAME
from hourhand import AttemptResult, Hourhand, JobContext, Retry

MAIL_QUEUE = "mail"
EMAIL = "hourhand.email"
SEND = "send_notifications"
# the subject of each kind of notification: a template over its variables
SUBJECTS = {
    "due_soon": "Reminder: {{ title }} is due on {{ due_date }}",
    "overdue": "Overdue: {{ title }} (fine so far {{ fine }})",
    "hold_ready": "Your hold is ready: {{ title }}",
    "relink": "Please reconnect your {{ provider }} account",
    "announcement": "{{ subject }}",
}


def queue_notification(
    conn: Any, domain: Domain, member_id: int, kind: str, variables: dict[str, Any]
) -> None:
    """Add a row to the outbox, in the caller's transaction."""
    conn.execute(
        domain.sql(
            "INSERT INTO notifications (member_id, kind, variables, status, created_at) "
            "VALUES (?, ?, ?, 'pending', ?)"
        ),
        (member_id, kind, json.dumps(variables), iso(now())),
    )


def wake_sender(hh: Hourhand) -> None:
    """Run send_notifications now rather than at its next five-minute mark (one such run
    waits at a time)."""
    hh.enqueue(SEND, {}, unique_key="wake")


def _decoded(value: Any) -> dict[str, Any]:
    """A JSON column: text on SQLite, already decoded (JSONB) on PostgreSQL."""
    decoded = json.loads(value) if isinstance(value, str) else value
    return dict(decoded)


def register(hh: Hourhand) -> None:
    @hh.job(SEND, queue=MAIL_QUEUE, max_attempts=2, retry=Retry.fixed([30]), timeout=240)
    def send_notifications(ctx: JobContext, batch: int = 500) -> dict[str, int]:
        """Hand up to ``batch`` pending notifications to e-mail jobs."""
        domain = Domain(hh.database_url)
        rows = domain.query(
            "SELECT n.id, n.kind, n.variables, m.email, m.name FROM notifications n "
            "JOIN members m ON m.id = n.member_id "
            "WHERE n.status = 'pending' ORDER BY n.id LIMIT ?",
            (batch,),
        )
        sent = unknown = 0
        for i, row in enumerate(rows):
            if row["kind"] not in SUBJECTS:
                unknown += 1
                domain.execute(
                    "UPDATE notifications SET status = 'failed' WHERE id = ?", (row["id"],)
                )
                continue
            variables = _decoded(row["variables"]) | {"name": row["name"], "library": LIBRARY_NAME}
            # the unique key keeps a second e-mail out while the first one waits, should
            # this job be retried between the enqueue and the update below
            job_id = hh.enqueue(
                EMAIL,
                {
                    "to": [row["email"]],
                    "subject": SUBJECTS[row["kind"]],
                    "text_file": f"{row['kind']}.txt",
                    "variables": variables,
                },
                queue=MAIL_QUEUE,
                unique_key=f"notification-{row['id']}",
            )
            domain.execute(
                "UPDATE notifications SET status = 'sent', sent_at = ?, job_id = ? "
                "WHERE id = ? AND status = 'pending'",
                (iso(now()), int(job_id), row["id"]),
            )
            sent += 1
            if i % 50 == 49:
                ctx.progress(100 * (i + 1) / len(rows), f"{i + 1} of {len(rows)}")
        return {"sent": sent, "unknown_kind": unknown}

    @hh.after_job(job=EMAIL)
    def delivered(ctx: JobContext, result: AttemptResult) -> None:
        if result.outcome == "completed":
            Domain(hh.database_url).execute(
                "UPDATE notifications SET status = 'delivered', delivered_at = ? WHERE job_id = ?",
                (iso(now()), ctx.job_id),
            )

    @hh.on_dead(job=EMAIL)
    def undeliverable(ctx: JobContext, result: AttemptResult) -> None:
        Domain(hh.database_url).execute(
            "UPDATE notifications SET status = 'failed' WHERE job_id = ?", (ctx.job_id,)
        )
