"""Jobs an administrator runs with parameters of their choosing (seed 003, phase 7,
"custom jobs"): job types whose typed parameters hourhand turns into a JSON schema
(``GET /v1/job-types``), so the dashboard and the API can create a schedule of one with
its arguments checked. (The other half of phase 7 is the ``[kinds.member-message]``
preset in hourhand.toml.)
"""

from __future__ import annotations

from typing import Literal

from examples.common.domain import Domain, iso, now
from examples.library.jobs.notifications import MAIL_QUEUE, queue_notification, wake_sender
from hourhand import Hourhand, JobContext, Retry

Audience = Literal["all", "borrowers", "overdue", "holds"]
AUDIENCES: dict[str, str] = {  # the members each audience reaches
    "all": "SELECT id AS member_id FROM members",
    "borrowers": "SELECT DISTINCT member_id FROM loans WHERE returned_at IS NULL",
    "overdue": "SELECT DISTINCT member_id FROM loans WHERE returned_at IS NULL AND due_at < ?",
    "holds": "SELECT DISTINCT member_id FROM holds WHERE status IN ('waiting', 'ready')",
}


def register(hh: Hourhand) -> None:
    @hh.job("announce", queue=MAIL_QUEUE, max_attempts=3, retry=Retry.fixed([60, 300]))
    def announce(ctx: JobContext, audience: Audience, subject: str, message: str) -> dict[str, int]:
        """E-mail an announcement to a group of members: all of them, those with a book
        out, those with an overdue book, or those waiting on a hold."""
        domain = Domain(hh.database_url)
        query = AUDIENCES[audience]
        params = (iso(now()),) if "?" in query else ()
        with domain.connect() as conn:
            rows = conn.execute(domain.sql(query), params).fetchall()
            members = [int(r["member_id"]) for r in rows]
            for member in members:
                variables = {"subject": subject, "message": message}
                queue_notification(conn, domain, member, "announcement", variables)
        if members:
            wake_sender(hh)
        return {"queued": len(members)}
