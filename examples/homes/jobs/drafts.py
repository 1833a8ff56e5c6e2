"""DraftCleanup and DraftReminder: drafts ("rozpracované záznamy") older than 30 days go,
their authors are reminded after 3 days and warned 7 days before."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from examples.common.domain import iso, now
from examples.homes import storage
from examples.homes.app import db, hh
from examples.homes.jobs.common import notify, parse, shown
from examples.homes.mail import send_email
from hourhand import JobContext

DAY = timedelta(days=1)


@hh.job("DraftCleanup", max_attempts=3)
def draft_cleanup(
    ctx: JobContext,
    delete_after_days: int = 30,
    warning_days_before_delete: int = 7,
    batch_size: int = 100,
) -> dict[str, int]:
    """Soft-delete up to ``batch_size`` drafts created more than ``delete_after_days`` ago,
    deleting their documents from the object store first (as the seed's job: one batch a
    run; what is left goes the next night). ``warning_days_before_delete`` is in the
    seed's settings of this job, which does not read it: DraftReminder warns."""
    d = db()
    moment = now()
    cutoff = iso(moment - delete_after_days * DAY)
    with d.connect() as conn:
        drafts = conn.execute(
            d.sql(
                "SELECT id FROM zaznamy WHERE status = 'draft' AND created_at < ?"
                " AND is_deleted = 0 ORDER BY created_at, id LIMIT ?"
            ),
            (cutoff, batch_size),
        ).fetchall()
        documents = 0
        for draft in drafts:
            docs = conn.execute(
                d.sql(
                    "SELECT id, storage_key FROM documents WHERE zaznam_id = ? AND is_deleted = 0"
                ),
                (draft["id"],),
            ).fetchall()
            for doc in docs:
                storage.delete(doc["storage_key"])  # deleting twice is fine, should we retry
                conn.execute(
                    d.sql("UPDATE documents SET is_deleted = 1 WHERE id = ?"), (doc["id"],)
                )
            documents += len(docs)
            conn.execute(
                d.sql("UPDATE zaznamy SET is_deleted = 1, deleted_at = ? WHERE id = ?"),
                (iso(moment), draft["id"]),
            )
    ctx.logger.info("DraftCleanup: Deleted %d drafts", len(drafts))
    return {"deleted": len(drafts), "documents": documents}


PENDING_DRAFTS = """
SELECT z.id, z.author_id, z.created_at, p.name AS property_name, u.email, u.name AS user_name
FROM zaznamy z
JOIN properties p ON p.id = z.property_id
JOIN users u ON u.id = z.author_id
WHERE z.status = 'draft' AND z.is_deleted = 0 AND z.created_at < ?
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.type = ? AND n.subject_key = {key})
ORDER BY z.created_at, z.id
LIMIT ?
"""


def _pending(conn: Any, before: str, kind: str, limit: int) -> list[Any]:
    d = db()
    key = "'zaznam:' || z.id" if d.dialect == "sqlite" else "'zaznam:' || z.id::text"
    sql = d.sql(PENDING_DRAFTS.replace("{key}", key))
    return list(conn.execute(sql, (before, kind, limit)).fetchall())


@hh.job("DraftReminder", max_attempts=3)
def draft_reminder(
    ctx: JobContext,
    reminder_after_days: int = 3,
    expiration_warning_days: int = 7,
    delete_after_days: int = 30,
    batch_size: int = 500,
) -> dict[str, int]:
    """1-2: a ``draft_reminder`` notification for each draft older than
    ``reminder_after_days`` that has none; 3-4: a ``draft_expiring`` notification and
    e-mail for each draft DraftCleanup deletes within ``expiration_warning_days``
    (``delete_after_days``: DraftCleanup's setting, to know when)."""
    d = db()
    moment = now()
    e_mails: list[tuple[str, dict[str, Any]]] = []
    with d.connect() as conn:
        reminders = _pending(
            conn, iso(moment - reminder_after_days * DAY), "draft_reminder", batch_size
        )
        for draft in reminders:
            created = parse(draft["created_at"])
            payload = {
                "zaznamId": str(draft["id"]),
                "propertyName": draft["property_name"],
                "createdAt": shown(created),
                "daysOld": (moment - created).days,
            }
            key = f"zaznam:{draft['id']}"
            notify(conn, d, draft["author_id"], "draft_reminder", payload, moment, key)
        warn_before = moment - (delete_after_days - expiration_warning_days) * DAY
        expiring = _pending(conn, iso(warn_before), "draft_expiring", batch_size)
        for draft in expiring:
            expires = parse(draft["created_at"]) + delete_after_days * DAY
            remaining = max(0, math.ceil((expires - moment) / DAY))
            payload = {
                "zaznamId": str(draft["id"]),
                "propertyName": draft["property_name"],
                "expiresAt": shown(expires),
                "daysRemaining": remaining,
            }
            key = f"zaznam:{draft['id']}"
            notify(conn, d, draft["author_id"], "draft_expiring", payload, moment, key)
            variables = {"name": draft["user_name"], **payload}
            e_mails.append((draft["email"], variables))
    for to, variables in e_mails:  # once the notifications are committed
        send_email(hh, "draft_expiring", to, variables)
    return {"reminders": len(reminders), "expiring": len(expiring)}
