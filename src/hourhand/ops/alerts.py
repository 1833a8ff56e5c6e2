"""Alerts, as operators see them. For now: sending a test notification through a channel
of the config file (``hourhand alerts test CHANNEL``), to check an address, a URL or a
signing secret before a real alert needs them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hourhand.alert_config import EmailChannel, LogChannel, WebhookChannel
from hourhand.errors import ConfigurationError, NotFound
from hourhand.ops.actor import Actor, Role

if TYPE_CHECKING:
    from hourhand.channels import Notification
    from hourhand.ops import Operations


class AlertOps:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    def send_test(self, actor: Actor, channel: str) -> Notification:
        """Send a sample notification through the channel now (DeliveryFailed if it does
        not take it); returns what was sent."""
        actor.require(Role.OPERATOR, "sending a test notification")
        # (imported here: the HTTP and SMTP clients cost every CLI command 70 ms otherwise)
        from hourhand.channels import Notification, send_email, send_log, send_webhook

        config = self.app.alerting
        found = config.channels.get(channel)
        if found is None:
            known = ", ".join(sorted(config.channels)) or "none"
            raise NotFound(f"no channel {channel!r} in the config file (channels: {known})")
        note = Notification(
            rule="test",
            kind="test",
            severity="info",
            state="test",
            summary=f"a test of channel {channel}, sent by {actor.label}",
        )
        if isinstance(found, WebhookChannel):
            send_webhook(found, note, name=channel)
        elif isinstance(found, EmailChannel):
            if config.smtp is None:  # (the config check makes this impossible)
                raise ConfigurationError(f"channel {channel} sends e-mail: add an [smtp] table")
            asyncio.run(send_email(config.smtp, found, note, name=channel))
        elif isinstance(found, LogChannel):
            send_log(found, note)
        self.ops.record(actor, "channel.test", "channel", channel, actor.org_id, None)
        return note
