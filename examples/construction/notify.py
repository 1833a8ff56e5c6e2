"""sendNotificationToAdmins(): an in-app notification row for each admin of the tenant, and
one e-mail to them all through hourhand's ``hourhand.email`` job (so a mail server that is
down delays the e-mail, with retries, and loses nothing)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from examples.common.domain import Domain, Row, iso, now
from hourhand import Hourhand

logger = logging.getLogger(__name__)

EMAIL_JOB = "hourhand.email"
EMAIL_ATTEMPTS = 8  # about an hour and a half of a mail server's outage (exponential backoff)


def admins(domain: Domain, conn: Any, tenant_id: int) -> list[Row]:
    """The tenant's users with the admin role."""
    rows = conn.execute(
        domain.sql(
            "SELECT id, name, email FROM users WHERE tenant_id = ? AND role = 'admin' ORDER BY id"
        ),
        (tenant_id,),
    )
    return [dict(row) for row in rows]


def notify_admins(
    domain: Domain, conn: Any, tenant_id: int, kind: str, payload: Mapping[str, Any]
) -> int:
    """A notification row per admin of the tenant, in the caller's transaction; how many."""
    recipients = admins(domain, conn, tenant_id)
    for admin in recipients:
        conn.execute(
            domain.sql(
                "INSERT INTO notifications (tenant_id, user_id, type, payload, created_at)"
                " VALUES (?, ?, ?, ?, ?)"
            ),
            (tenant_id, admin["id"], kind, json.dumps(dict(payload)), iso(now())),
        )
    return len(recipients)


def can_email(hh: Hourhand) -> bool:
    """Whether this process has an SMTP server (``[smtp]`` or ``HOURHAND_SMTP_*``)."""
    return hh.alerting.smtp is not None


def email_admins(
    hh: Hourhand,
    to: list[str],
    *,
    subject: str,
    text: str,
    variables: Mapping[str, Any],
    unique_key: str,
) -> int:
    """Enqueue one e-mail to ``to``: ``subject`` and ``text`` are Jinja2 templates,
    ``variables`` the data they show (never pasted into the template). ``unique_key``
    keeps a second enqueue of the same e-mail from adding a job while the first waits."""
    return int(
        hh.enqueue(
            EMAIL_JOB,
            {"to": to, "subject": subject, "text": text, "variables": dict(variables)},
            unique_key=unique_key,
            max_attempts=EMAIL_ATTEMPTS,
        )
    )
