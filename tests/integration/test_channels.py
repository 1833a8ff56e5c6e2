"""Notification channels against real local servers: a webhook receiver (http.server) and
an SMTP server (aiosmtpd). No database is involved."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import pytest

from hourhand.alert_config import EmailChannel, LogChannel, SmtpSettings, WebhookChannel
from hourhand.channels import (
    SIGNATURE_HEADER,
    DeliveryFailed,
    Notification,
    redact_urls,
    send_email,
    send_log,
    send_webhook,
)
from tests.acceptance.test_cli import hourhand
from tests.support.servers import Mailbox, Receiver, free_port

NOTE = Notification(
    rule="reports-failing",
    kind="failures_in_a_row",
    severity="critical",
    state="firing",
    summary="reports:generate failed 3 times in a row",
    details={"job": "reports:generate", "count": 3},
)


def test_a_webhook_gets_the_json_signed(receiver: Receiver) -> None:
    channel = WebhookChannel(kind="webhook", url=receiver.url, secret="hook-s3cret")
    assert send_webhook(channel, NOTE) == 200
    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert payload["rule"] == "reports-failing" and payload["state"] == "firing"
    assert payload["details"] == {"job": "reports:generate", "count": 3}
    expected = hmac.new(b"hook-s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"


def test_slack_and_teams_shapes(receiver: Receiver) -> None:
    send_webhook(WebhookChannel(kind="webhook", url=receiver.url, format="slack"), NOTE)
    send_webhook(WebhookChannel(kind="webhook", url=receiver.url, format="teams"), NOTE)
    slack, teams = (json.loads(body) for _, body in receiver.requests)
    assert slack == {"text": "[CRITICAL] reports-failing: reports:generate failed 3 times in a row"}
    assert teams["@type"] == "MessageCard" and teams["title"] == slack["text"]
    assert SIGNATURE_HEADER not in receiver.requests[0][0]  # no secret, no signature


def test_a_refusing_or_absent_webhook_is_a_failed_delivery(receiver: Receiver) -> None:
    receiver.status = 503
    channel = WebhookChannel(kind="webhook", url=receiver.url, secret="hook-s3cret")
    with pytest.raises(DeliveryFailed, match="HTTP 503: no thanks") as refused:
        send_webhook(channel, NOTE, name="ops-hook")
    assert "ops-hook" in str(refused.value) and "s3cret" not in str(refused.value)
    gone = WebhookChannel(kind="webhook", url=f"http://127.0.0.1:{free_port()}/", timeout=2)
    with pytest.raises(DeliveryFailed, match="ConnectError"):
        send_webhook(gone, NOTE)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("refused https://hooks.example/T0/B0/tok-1 now", "refused https://hooks.example/... now"),
        ("at http://h.example:8080?token=tok-1", "at http://h.example:8080/..."),
        ("via https://user:tok-1@h.example/p", "via https://h.example/..."),
        ("bad http://h.example:port/tok-1", "bad <a URL>"),
    ],
)
def test_a_delivery_error_keeps_no_part_of_a_url_that_may_hold_a_secret(
    text: str, kept: str
) -> None:
    assert redact_urls(text) == kept


def test_an_email_reaches_the_smtp_server(smtp: tuple[SmtpSettings, Mailbox]) -> None:
    settings, box = smtp
    channel = EmailChannel(kind="email", to=["ops@example.com", "oncall@example.com"])
    asyncio.run(send_email(settings, channel, NOTE))
    [(recipients, message)] = box.messages
    assert recipients == ["ops@example.com", "oncall@example.com"]
    assert message["Subject"] == (
        "[hourhand] [CRITICAL] reports-failing: reports:generate failed 3 times in a row"
    )
    assert message["From"] == "hourhand@example.com"
    body = message.get_content()
    assert "reports:generate failed 3 times in a row" in body and "count: 3" in body


def test_an_smtp_server_that_is_down_is_a_failed_delivery() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), sender="h@example.com", timeout=3)
    channel = EmailChannel(kind="email", to=["ops@example.com"])
    with pytest.raises(DeliveryFailed, match="channel ops-mail"):
        asyncio.run(send_email(settings, channel, NOTE, name="ops-mail"))


def test_the_log_channel(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hourhand.channels")
    send_log(LogChannel(kind="log", level="error"), NOTE)
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "reports-failing" in record.getMessage()


def test_alerts_test_sends_through_a_configured_channel(receiver: Receiver, tmp_path: Any) -> None:
    config = tmp_path / "hourhand.toml"
    config.write_text(f'[channels.ops-hook]\nkind = "webhook"\nurl = "{receiver.url}"\n')
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert hourhand("--database", db, "migrate").returncode == 0
    sent = hourhand("--database", db, "alerts", "test", "ops-hook", "--config", str(config))
    assert sent.returncode == 0, sent.stderr
    [(_, body)] = receiver.requests
    assert json.loads(body)["state"] == "test"
    receiver.status = 500
    failed = hourhand("--database", db, "alerts", "test", "ops-hook", "--config", str(config))
    assert failed.returncode == 2 and "HTTP 500" in failed.stderr
    unknown = hourhand("--database", db, "alerts", "test", "nope", "--config", str(config))
    assert unknown.returncode == 2 and "no channel 'nope'" in unknown.stderr
