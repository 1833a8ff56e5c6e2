"""The notification service of the seed, on hourhand's ready-made kinds: each e-mail is an
``hourhand.email`` job (templates in ``emails/``, the ``[smtp]`` server of hourhand.toml
or ``HOURHAND_SMTP_*``), each WhatsApp message an ``hourhand.http`` job. As jobs they are
retried while the mail server is down, and the job that sends them returns at once.

A job run sends at most :data:`MAX_EMAILS` e-mails (the seed: "Email delivery: 100 per job
run (rate-limited)"); what is left over waits for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hourhand import Hourhand

MAX_EMAILS = 100  # e-mails per job run
EMAIL_KIND = "hourhand.email"
HTTP_KIND = "hourhand.http"
WHATSAPP_URL = "GST_WHATSAPP_URL"  # where WhatsApp messages are POSTed (unset: none are)
# the name of the gateway's bearer token, an hourhand secret: HOURHAND_SECRET_WHATSAPP_TOKEN
WHATSAPP_TOKEN_SECRET = "WHATSAPP_TOKEN"  # noqa: S105 (a name, not a secret)
# a queue of their own, so that workers can cap the calls to the gateway at once:
# hourhand serve --queues default,hourhand,whatsapp:3
WHATSAPP_QUEUE = "whatsapp"
APP_URL = "GST_APP_URL"  # the web app the e-mails link to
DEFAULT_APP_URL = "http://localhost:8080"


def app_url() -> str:
    return os.environ.get(APP_URL, DEFAULT_APP_URL).rstrip("/")


class Outbox:
    """The messages of one job run, with its e-mail budget."""

    def __init__(self, hh: Hourhand, limit: int = MAX_EMAILS) -> None:
        self.hh = hh
        self.limit = limit
        self.emails = 0
        self.whatsapp = 0

    @property
    def left(self) -> int:
        """E-mails this run may still send."""
        return self.limit - self.emails

    def email(self, messages: list[dict[str, Any]], connection: Any = None) -> list[int]:
        """Enqueue these e-mails (``hourhand.email`` arguments) in one statement, in the
        caller's transaction if ``connection`` is given; their job ids. More than
        :attr:`left` is a bug in the caller."""
        if len(messages) > self.left:
            raise ValueError(f"{len(messages)} e-mails over the run's budget of {self.left}")
        if not messages:
            return []
        ids = self.hh.enqueue_many(EMAIL_KIND, messages, connection=connection)
        self.emails += len(messages)
        return ids

    def whatsapp_messages(
        self, messages: Sequence[Mapping[str, Any]], connection: Any = None
    ) -> list[int]:
        """POST each message (JSON) to the WhatsApp gateway, if one is configured (in the
        caller's transaction if ``connection`` is given)."""
        url = os.environ.get(WHATSAPP_URL)
        if not url or not messages:
            return []
        headers: dict[str, Any] = {}
        if os.environ.get(f"HOURHAND_SECRET_{WHATSAPP_TOKEN_SECRET}"):
            headers["Authorization"] = {"secret": WHATSAPP_TOKEN_SECRET}  # resolved by the worker
        ids = self.hh.enqueue_many(
            HTTP_KIND,
            [
                {"method": "POST", "url": url, "json": dict(m), "headers": headers, "timeout": 30}
                for m in messages
            ],
            queue=WHATSAPP_QUEUE,
            connection=connection,
        )
        self.whatsapp += len(ids)
        return ids


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """``5:00 PM`` in the zone."""
    local = moment.astimezone(zone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def relative_day(moment: datetime, zone: ZoneInfo, today: datetime) -> str:
    """``Today 5:00 PM``, ``Tomorrow 10:30 AM`` or ``Mon 20 Jan 10:30 AM`` in the zone."""
    days = (moment.astimezone(zone).date() - today.astimezone(zone).date()).days
    day = {0: "Today", 1: "Tomorrow"}.get(days) or f"{moment.astimezone(zone):%a %d %b}"
    return f"{day} {clock(moment, zone)}"


def long_time(moment: datetime, zone: ZoneInfo) -> str:
    """``Thu 16 Jan 2025, 10:30 AM IST``."""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y}, {clock(moment, zone)} {local.tzname()}"
