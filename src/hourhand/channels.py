"""Sending one notification through one channel: a webhook (JSON, Slack or Teams shape,
optionally signed), an e-mail (SMTP), or the log. A failed delivery raises
:class:`DeliveryFailed` naming the channel and why, never its secrets; retrying is the
caller's (a notification is a job, so it retries with backoff and ends in the dead-letter
set when a channel stays down).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx2

from hourhand.alert_config import (
    EmailChannel,
    LogChannel,
    SmtpSettings,
    WebhookChannel,
)
from hourhand.errors import DeliveryFailed

logger = logging.getLogger(__name__)

__all__ = ["DeliveryFailed", "Notification", "send_email", "send_log", "send_webhook"]

SIGNATURE_HEADER = "X-Hourhand-Signature"  # sha256=<hex HMAC of the body>
BODY_EXCERPT = 200  # characters of a refusing server's answer kept in the error
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with every URL cut to its scheme, host and port: a webhook's path, query
    and user:password may hold its secret."""

    def origin(found: re.Match[str]) -> str:
        try:
            parts = urlsplit(found.group(0))
            host = parts.hostname or "?"
            port = f":{parts.port}" if parts.port else ""
        except ValueError:  # not a URL after all (a bad port): keep nothing of it
            return "<a URL>"
        return f"{parts.scheme}://{host}{port}/..."

    return _URL.sub(origin, text)


COLOURS = {"critical": "D32F2F", "warning": "F9A825", "info": "1976D2", "resolved": "2E7D32"}
LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class Notification:
    """What an alert says at one change: firing, resolved (or a test)."""

    rule: str  # the alert rule's name
    kind: str  # its kind (failures_in_a_row, ...)
    severity: str  # critical, warning, info
    state: str  # "firing", "resolved" or "test"
    summary: str  # one line, e.g. "reports:generate failed 3 times in a row"
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def title(self) -> str:
        mark = "RESOLVED" if self.state == "resolved" else self.severity.upper()
        if self.state == "test":
            mark = "TEST"
        return f"[{mark}] {self.rule}: {self.summary}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "summary": self.summary,
            "details": self.details,
            "at": self.at.astimezone(UTC).isoformat(),
        }


def webhook_body(channel: WebhookChannel, note: Notification) -> bytes:
    """The request body in the channel's format."""
    payload: dict[str, Any]
    if channel.format == "slack":
        payload = {"text": note.title}
    elif channel.format == "teams":
        colour = COLOURS["resolved" if note.state == "resolved" else note.severity]
        payload = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": note.title,
            "themeColor": colour,
            "title": note.title,
            "text": note.summary,
        }
    else:
        payload = note.to_dict()
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(channel: WebhookChannel, note: Notification, *, name: str = "webhook") -> int:
    """POST the notification; returns the status. DeliveryFailed on a connection error, a
    timeout or an answer that is not 2xx."""
    body = webhook_body(channel, note)
    headers = {"Content-Type": "application/json", "User-Agent": "hourhand"}
    if channel.secret is not None:
        headers[SIGNATURE_HEADER] = signature(channel.secret.get_secret_value(), body)
    try:
        response = httpx2.post(channel.url, content=body, headers=headers, timeout=channel.timeout)
    except httpx2.HTTPError as exc:
        why = redact_urls(str(exc).replace(channel.url, "<the channel's URL>"))
        raise DeliveryFailed(f"channel {name}: {type(exc).__name__}: {why}") from None
    if not 200 <= response.status_code < 300:
        excerpt = redact_urls(response.text[:BODY_EXCERPT])
        raise DeliveryFailed(f"channel {name}: HTTP {response.status_code}: {excerpt}")
    return response.status_code


def email_message(smtp: SmtpSettings, channel: EmailChannel, note: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(channel.to)
    message["Subject"] = f"{channel.subject_prefix} {note.title}".strip()
    lines = [note.summary, "", f"rule: {note.rule} ({note.kind})", f"severity: {note.severity}"]
    lines += [f"state: {note.state}", f"at: {note.at.astimezone(UTC).isoformat()}"]
    lines += [f"{key}: {value}" for key, value in sorted(note.details.items())]
    message.set_content("\n".join(lines) + "\n")
    return message


async def send_email(
    smtp: SmtpSettings, channel: EmailChannel, note: Notification, *, name: str = "email"
) -> None:
    """Send the notification to the channel's addresses through the SMTP server;
    DeliveryFailed if the server cannot be reached or refuses it."""
    message = email_message(smtp, channel, note)
    try:
        await smtp_send(smtp, message)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"channel {name}: {type(exc).__name__}: {exc}") from None


async def smtp_send(
    smtp: SmtpSettings, message: EmailMessage, recipients: list[str] | None = None
) -> tuple[dict[str, Any], str]:
    """Send a message through the SMTP server of ``smtp`` (to ``recipients``, else to its
    To, Cc and Bcc headers): the recipients it refused and its answer. Raises aiosmtplib's
    SMTPException (all refused, a refusal) or OSError (no connection)."""
    password = None if smtp.password is None else smtp.password.get_secret_value()
    refused, answer = await aiosmtplib.send(
        message,
        recipients=recipients,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=password,
        use_tls=smtp.tls == "tls",
        start_tls=smtp.tls == "starttls",
        timeout=smtp.timeout,
    )
    return dict(refused), answer


def send_log(channel: LogChannel, note: Notification) -> None:
    logger.log(LOG_LEVELS[channel.level], "alert %s", note.title)
