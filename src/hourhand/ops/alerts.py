"""Alerts, as operators see them: the alerts (firing, pending, past) with acknowledge and
silence, the rules (config, code, and those made through the API, org-scoped), and a test
notification through a channel of the config file (``hourhand alerts test CHANNEL``).

An organisation's actor sees the alerts about its organisation and the rules it made;
its rules may only look at its own jobs and schedules, so they may not target a queue or
the cluster's workers (queue_backlog, no_workers) and always carry its organisation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hourhand import checks
from hourhand.alert_config import AlertRule, EmailChannel, WebhookChannel, rule_from
from hourhand.errors import ConfigurationError, Forbidden, InvalidInput, NotFound
from hourhand.ops.actor import Actor, Role
from hourhand.store.alert_rows import ALERT_STATES, AlertQuery, AlertRow

if TYPE_CHECKING:
    from hourhand.alert_config import Channel
    from hourhand.channels import Notification
    from hourhand.ops import Operations

MAX_LIST = 500
MAX_ORG_RULES = 50  # rules an organisation may make (every scheduler evaluates each)
MAX_SILENCE = timedelta(days=365)
CLUSTER_KINDS = ("queue_backlog", "no_workers")  # not for an organisation's rules


@dataclass(frozen=True)
class RuleInfo:
    """A rule as listed: where it comes from, and its definition (channels by name: their
    settings, and secrets, stay in the config file)."""

    name: str
    source: str  # config | code | api
    org_id: str | None  # an API rule made by an organisation's key
    rule: AlertRule

    def to_dict(self) -> dict[str, Any]:
        spec = self.rule.model_dump(by_alias=True, exclude_none=True)
        return {"name": self.name, "source": self.source, "org_id": self.org_id, **spec}


@dataclass(frozen=True)
class ChannelInfo:
    """A channel of the config file as people may see it: where it sends, never how it
    signs or logs in (secrets), nor a webhook's path (Slack's and Teams' hold a token)."""

    name: str
    kind: str  # webhook | email | log
    target: str  # a webhook's host, e-mail recipients, or the log level
    format: str | None  # a webhook's body format (json, slack, teams)
    orgs: tuple[str, ...]  # organisations whose own rules may send through it
    signed: bool  # a webhook that signs its body (with a secret, not shown)


def channel_info(name: str, channel: Channel) -> ChannelInfo:
    if isinstance(channel, WebhookChannel):
        parts = urlsplit(channel.url)
        host = parts.hostname or "?"
        target = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        return ChannelInfo(
            name, "webhook", target, channel.format, tuple(channel.orgs), channel.secret is not None
        )
    if isinstance(channel, EmailChannel):
        return ChannelInfo(name, "email", ", ".join(channel.to), None, tuple(channel.orgs), False)
    return ChannelInfo(name, channel.kind, channel.level, None, tuple(channel.orgs), False)


class AlertOps:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    # -- alerts ---------------------------------------------------------------------------
    def get(self, actor: Actor, alert_id: int) -> AlertRow:
        actor.require(Role.VIEWER, "reading alerts")
        checks.integer("alert id", alert_id, 1, checks.MAX_ID)
        alert = self.app.store.alerts.get_alert(alert_id)
        if alert is None or not actor.sees(alert.org_id):
            raise NotFound(f"no alert {alert_id}")
        return alert

    def ack(self, actor: Actor, alert_id: int, *, undo: bool = False) -> AlertRow:
        """Acknowledge an alert: someone is on it, so a firing one is not notified again
        (its resolution still is). ``undo`` takes the acknowledgement back."""
        actor.require(Role.OPERATOR, "acknowledging alerts")
        self.get(actor, alert_id)
        at = None if undo else self.app.store.now()
        alert = self.app.store.alerts.ack_alert(alert_id, actor.label, at)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        action = "alert.unack" if undo else "alert.ack"
        self.ops.record(actor, action, "alert", alert_id, alert.org_id, None)
        return alert

    def silence(self, actor: Actor, alert_id: int, seconds: float | None) -> AlertRow:
        """Send nothing about an alert for ``seconds`` (None: end its silence now)."""
        actor.require(Role.OPERATOR, "silencing alerts")
        self.get(actor, alert_id)
        until = None
        if seconds is not None:
            checks.number("seconds", seconds, 1, MAX_SILENCE.total_seconds())
            until = self.app.store.now() + timedelta(seconds=seconds)
        alert = self.app.store.alerts.silence_alert(alert_id, until)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        details = {"until": None if until is None else until.isoformat()}
        self.ops.record(actor, "alert.silence", "alert", alert_id, alert.org_id, details)
        return alert

    # -- rules ----------------------------------------------------------------------------
    def rules(self, actor: Actor) -> list[RuleInfo]:
        """The rules: an organisation's actor sees its own API rules only."""
        actor.require(Role.VIEWER, "listing alert rules")
        out: list[RuleInfo] = []
        if actor.org_id is None:
            out += [RuleInfo(n, "config", None, r) for n, r in self.app.alerting.alerts.items()]
            out += [RuleInfo(n, "code", None, r) for n, r in self.app.alert_rules.items()]
        stored = self.app.store.alerts.list_rules(actor.org_id, every=actor.org_id is None)
        for row in stored:
            try:
                rule = AlertRule.model_validate(row.spec)
            except ValueError:
                continue
            out.append(RuleInfo(row.name, "api", row.org_id, rule))
        return sorted(out, key=lambda r: (r.name, r.org_id or ""))

    def rule(self, actor: Actor, name: str) -> RuleInfo:
        for info in self.rules(actor):
            if info.name == name and (info.source != "api" or info.org_id == actor.org_id):
                return info
        raise NotFound(f"no alert rule {name!r}")

    def create_rule(self, actor: Actor, name: str, spec: dict[str, Any]) -> RuleInfo:
        """Add a rule through the API (stored in the database)."""
        actor.require(Role.OPERATOR, "creating alert rules")
        checks.text("name", name, max_length=200)
        rule = self._checked(actor, name, spec)
        if actor.org_id is not None:
            made = self.app.store.alerts.list_rules(actor.org_id, every=False)
            if len(made) >= MAX_ORG_RULES:
                raise InvalidInput(
                    f"organisation {actor.org_id!r} has {len(made)} alert rules, the most "
                    "it may have: delete one first"
                )
        if self._defined_elsewhere(actor, name):
            raise InvalidInput(f"alert rule {name!r} is defined in the config file or the code")
        data = rule.model_dump(by_alias=True, exclude_none=True)
        self.app.store.alerts.insert_rule(name, actor.org_id, data, actor.label)
        self.ops.record(actor, "alert_rule.create", "alert_rule", name, actor.org_id, data)
        return RuleInfo(name, "api", actor.org_id, rule)

    def update_rule(self, actor: Actor, name: str, changes: dict[str, Any]) -> RuleInfo:
        """Change some keys of an API rule (config and code rules change in their files)."""
        actor.require(Role.OPERATOR, "editing alert rules")
        stored = self.app.store.alerts.get_rule(name, actor.org_id)
        if stored is None:
            if self._defined_elsewhere(actor, name):
                raise Forbidden(f"alert rule {name!r} is defined in the config file or the code")
            raise NotFound(f"no alert rule {name!r}")
        rule = self._checked(actor, name, {**stored.spec, **changes})
        data = rule.model_dump(by_alias=True, exclude_none=True)
        self.app.store.alerts.update_rule(name, actor.org_id, data)
        details = {"before": stored.spec, "after": data}
        self.ops.record(actor, "alert_rule.update", "alert_rule", name, actor.org_id, details)
        return RuleInfo(name, "api", actor.org_id, rule)

    def delete_rule(self, actor: Actor, name: str) -> None:
        actor.require(Role.OPERATOR, "deleting alert rules")
        if not self.app.store.alerts.delete_rule(name, actor.org_id):
            if self._defined_elsewhere(actor, name):
                raise Forbidden(f"alert rule {name!r} is defined in the config file or the code")
            raise NotFound(f"no alert rule {name!r}")
        self.ops.record(actor, "alert_rule.delete", "alert_rule", name, actor.org_id, None)

    def _defined_elsewhere(self, actor: Actor, name: str) -> bool:
        return actor.org_id is None and (
            name in self.app.alerting.alerts or name in self.app.alert_rules
        )

    def _checked(self, actor: Actor, name: str, spec: dict[str, Any]) -> AlertRule:
        try:
            rule = rule_from(spec, f"alert rule {name!r}")
        except ConfigurationError as exc:
            raise InvalidInput(str(exc)) from None
        known = self.app.alerting.channels
        for channel in rule.channels:
            found = known.get(channel)
            if actor.org_id is not None and (found is None or actor.org_id not in found.orgs):
                # (an organisation is not told which channels the cluster has)
                raise InvalidInput(
                    f"channel {channel!r} is not open to organisation {actor.org_id!r} "
                    "(a channel's 'orgs' in hourhand.toml)"
                )
            if found is None:
                names = ", ".join(sorted(known)) or "none"
                raise InvalidInput(f"unknown channel {channel!r} (channels: {names})")
        if actor.org_id is not None:
            if rule.kind in CLUSTER_KINDS or rule.queue is not None:
                raise Forbidden(
                    f"an organisation's rule cannot watch queues or workers ({rule.kind})"
                )
            if rule.org not in (None, actor.org_id):
                raise NotFound(f"no organisation {rule.org!r}")
            rule = rule.model_copy(update={"org": actor.org_id})
        return rule

    # -- channels -------------------------------------------------------------------------
    def channels(self, actor: Actor) -> list[ChannelInfo]:
        """The config file's channels without their secrets; an organisation's actor sees
        the ones open to its rules."""
        actor.require(Role.VIEWER, "listing alert channels")
        found = sorted(self.app.alerting.channels.items())
        return [
            channel_info(name, channel)
            for name, channel in found
            if actor.org_id is None or actor.org_id in channel.orgs
        ]

    def send_test(self, actor: Actor, channel: str) -> Notification:
        """Send a sample notification through the channel now (DeliveryFailed if it does
        not take it); returns what was sent."""
        actor.require(Role.ADMIN, "sending a test notification")
        if actor.org_id is not None:  # the channels are the cluster's
            raise Forbidden("sending a test notification needs a key outside any organisation")
        # (imported here: the HTTP and SMTP clients cost every CLI command 70 ms otherwise)
        from hourhand.alert_engine import deliver
        from hourhand.channels import Notification

        note = Notification(
            rule="test",
            kind="test",
            severity="info",
            state="test",
            summary=f"a test of channel {channel}, sent by {actor.label}",
        )
        asyncio.run(deliver(self.app, channel, note))
        self.ops.record(actor, "channel.test", "channel", channel, actor.org_id, None)
        return note

    # (last: the name would shadow the builtin in the annotations above)
    def list(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        rule: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AlertRow]:
        """Alerts, newest first: ``state`` pending, firing, resolved, or open (pending or
        firing)."""
        actor.require(Role.VIEWER, "listing alerts")
        if state is not None and state not in (*ALERT_STATES, "open"):
            raise InvalidInput(f"unknown alert state {state!r} (pending, firing, resolved, open)")
        checks.integer("limit", limit, 1, MAX_LIST)
        if before_id is not None:
            checks.integer("before_id", before_id, 1, checks.MAX_ID)
        query = AlertQuery(state, rule, actor.org_id, before_id, limit)
        return self.app.store.alerts.list_alerts(query)
