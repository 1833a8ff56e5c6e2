"""Evaluating alert rules and the alerts' lifecycle; notifications as jobs.

The scheduler calls :meth:`AlertEngine.evaluate` every EVALUATE_EVERY seconds. For each
rule it asks :mod:`hourhand.alert_conditions` what holds now, and moves the alerts:

- a condition seen for the first time opens an alert: *pending* if the rule has ``for``
  (it must hold that long), else *firing*;
- a pending alert whose condition has held for ``for`` starts *firing*;
- a firing alert is notified again every ``repeat`` seconds, unless acknowledged;
- an alert whose condition no longer holds is *resolved* (a pending one quietly).

Each change is one compare-and-set in the store, and the notification jobs commit with it
(:class:`hourhand.store.alert_rows.AlertRecords`): with any number of schedulers
evaluating, each change happens, and is notified, once. A silenced alert changes as usual
but sends nothing until its silence ends.

A notification is a job of the type ``hourhand.notify`` on the queue NOTIFY_QUEUE: it
carries the channel's *name* and what to say (never a secret; channels are looked up in
the config when it runs), retries with backoff while a channel is down, and ends in the
dead-letter set if the channel stays down, so an outage of the mail server loses no alert.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourhand.alert_conditions import NOTIFY_QUEUE, ActiveRule, Finding, findings
from hourhand.alert_config import AlertRule, EmailChannel, LogChannel, WebhookChannel
from hourhand.errors import ConfigurationError, NotFound
from hourhand.jobs import JobContext, NewJob
from hourhand.retry import Retry
from hourhand.store.alert_rows import AlertRow, NewAlert

if TYPE_CHECKING:
    from hourhand.app import Hourhand
    from hourhand.channels import Notification

logger = logging.getLogger(__name__)

EVALUATE_EVERY = 10.0  # seconds between evaluations in a scheduler
NOTIFY_JOB = "hourhand.notify"
# a channel that is down is tried for about a day: 15 s, 30 s, ... capped at 30 minutes
NOTIFY_RETRY = Retry.exponential(base=15, cap=1800)
NOTIFY_ATTEMPTS = 60


@dataclass
class Evaluation:
    """What one evaluation changed (alert ids), and the rules that could not be evaluated."""

    opened: list[int] = field(default_factory=list)
    fired: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class AlertEngine:
    """The alerts of one app: its rules (config, code, API) and their evaluation."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app
        self._warned: set[tuple[str, tuple[str, ...]]] = set()  # rules with unknown channels

    def rules(self, *, disabled: bool = False) -> list[ActiveRule]:
        """Every enabled rule (``disabled``: the disabled ones too): the config file's, the
        code's (``hh.alert``), and those made through the API (a broken stored one is
        logged and left out). A channel the config does not define is logged and left out
        of the rule (its notifications could never be delivered)."""
        active = [ActiveRule(n, "config", r) for n, r in self.app.alerting.alerts.items()]
        active += [ActiveRule(n, "code", r) for n, r in self.app.alert_rules.items()]
        for stored in self.app.store.alerts.list_rules():
            try:
                rule = AlertRule.model_validate(stored.spec)
            except ValueError as exc:
                logger.error("alert rule %r (API) cannot be read: %s", stored.name, exc)
                continue
            active.append(ActiveRule(stored.name, "api", rule, stored.org_id))
        known = self.app.alerting.channels
        out = []
        for a in active:
            if not (a.rule.enabled or disabled):
                continue
            missing = [
                c
                for c in a.rule.channels
                if c not in known or (a.org is not None and a.org not in known[c].orgs)
            ]
            if missing:
                if (a.name, tuple(missing)) not in self._warned:  # once, not every 10 s
                    self._warned.add((a.name, tuple(missing)))
                    logger.error("alert rule %r: no channel %s in the config", a.name, missing)
                kept = [c for c in a.rule.channels if c in known]
                a = ActiveRule(
                    a.name, a.source, a.rule.model_copy(update={"channels": kept}), a.org
                )
            out.append(a)
        return out

    def evaluate(self, now: datetime) -> Evaluation:
        """Evaluate every rule at ``now`` and move its alerts (see the module's doc)."""
        result = Evaluation()
        store = self.app.store.alerts
        every = self.rules(disabled=True)
        rules = [a for a in every if a.rule.enabled]
        known = {(a.name, a.org) for a in every}
        open_alerts: dict[tuple[str, str | None], dict[str, AlertRow]] = {}
        for alert in store.open_alerts():
            open_alerts.setdefault((alert.rule, alert.rule_org), {})[alert.key] = alert
        for active in rules:
            ident = (active.name, active.org)
            try:
                found = findings(self.app, active, now)
            except Exception as exc:  # one broken rule must not stop the others
                logger.exception("alert rule %r could not be evaluated", active.name)
                result.errors[active.name] = f"{type(exc).__name__}: {exc}"
                open_alerts.pop(ident, None)  # keep its alerts as they are
                continue
            current = open_alerts.pop(ident, {})
            for finding in found:
                self._held(active, finding, current.pop(finding.key, None), now, result)
            for alert in current.values():
                self._resolve(active, alert, now, result)
        # The alerts of rules this process does not evaluate: those of a rule that is gone
        # from the database (an API rule deleted) or disabled here end; those of a config
        # or code rule this process does not have are another scheduler's to evaluate (a
        # process with another config file must not end them: they would flap).
        for (name, org), gone in open_alerts.items():
            for alert in gone.values():
                if alert.source == "api" or (name, org) in known:
                    self._resolve(None, alert, now, result)
        return result

    # -- the lifecycle --------------------------------------------------------------------
    def _held(
        self,
        active: ActiveRule,
        finding: Finding,
        alert: AlertRow | None,
        now: datetime,
        result: Evaluation,
    ) -> None:
        rule = active.rule
        store = self.app.store.alerts
        wait = rule.for_ or 0.0
        if alert is None:
            state = "pending" if wait > 0 else "firing"
            new = NewAlert(
                rule=active.name,
                rule_org=active.org,
                source=active.source,
                key=finding.key,
                kind=rule.kind,
                severity=rule.severity,
                state=state,
                summary=finding.summary,
                org_id=finding.org_id or active.org_scope,
                details=finding.details,
            )
            notify = (
                self._notes(active, new.summary, new.details, "firing", now)
                if state == "firing"
                else []
            )
            row = store.insert_alert(new, now, notify)
            if row is not None:
                result.opened.append(row.id)
                if state == "firing":
                    result.fired.append(row.id)
                    self._log(row, "firing")
            return
        if alert.state == "pending":
            if now - alert.opened_at < timedelta(seconds=wait):
                return
            notify = (
                []
                if alert.silenced(now)
                else self._notes(active, finding.summary, finding.details, "firing", now)
            )
            values: dict[str, Any] = {"state": "firing", "fired_at": now}
            values |= {"summary": finding.summary, "details": finding.details}
            if notify:
                values["notified_at"] = now
            if store.change_alert(alert.id, {"state": "pending"}, values, notify):
                result.fired.append(alert.id)
                self._log(alert, "firing")
            return
        if alert.notified_at is None and rule.channels and not alert.silenced(now):
            # it started firing while silenced: announce it now that the silence is over
            notify = self._notes(active, finding.summary, finding.details, "firing", now)
            values = {"notified_at": now, "summary": finding.summary, "details": finding.details}
            if store.change_alert(
                alert.id, {"state": "firing", "notified_at": None}, values, notify
            ):
                result.repeated.append(alert.id)
            return
        # firing: notify again every `repeat`, unless acknowledged or silenced
        last = alert.notified_at or alert.fired_at or alert.opened_at
        if (
            rule.repeat is None
            or alert.acked_at is not None
            or alert.silenced(now)
            or now - last < timedelta(seconds=rule.repeat)
        ):
            if finding.summary != alert.summary:  # what it says changed: keep it current
                values = {"summary": finding.summary, "details": finding.details}
                store.change_alert(alert.id, {"state": "firing"}, values)
            return
        notify = self._notes(active, finding.summary, finding.details, "firing", now, repeat=True)
        expect = {"state": "firing", "notified_at": alert.notified_at}
        values = {"notified_at": now, "summary": finding.summary, "details": finding.details}
        if store.change_alert(alert.id, expect, values, notify):
            result.repeated.append(alert.id)

    def _resolve(
        self, active: ActiveRule | None, alert: AlertRow, now: datetime, result: Evaluation
    ) -> None:
        notify: list[NewJob] = []
        announced = alert.state == "firing" and alert.notified_at is not None
        if active is not None and announced and not alert.silenced(now):
            notify = self._notes(active, alert.summary, alert.details, "resolved", now)
        values: dict[str, Any] = {"state": "resolved", "resolved_at": now}
        if notify:
            values["notified_at"] = now
        if self.app.store.alerts.change_alert(alert.id, {"state": alert.state}, values, notify):
            result.resolved.append(alert.id)
            if alert.state == "firing":
                self._log(alert, "resolved")

    def _notes(
        self,
        active: ActiveRule,
        summary: str,
        details: dict[str, Any],
        state: str,
        now: datetime,
        *,
        repeat: bool = False,
    ) -> list[NewJob]:
        """One notification job per channel of the rule."""
        rule = active.rule
        note = {
            "rule": active.name,
            "kind": rule.kind,
            "severity": rule.severity,
            "state": state,
            "summary": summary,
            "details": {**details, **({"repeat": True} if repeat else {})},
            "at": now.isoformat(),
        }
        return [
            self.app.new_job(NOTIFY_JOB, {"channel": channel, "note": note})
            for channel in rule.channels
        ]

    def _log(self, alert: AlertRow, state: str) -> None:
        level = logging.INFO if state == "resolved" else logging.WARNING
        logger.log(level, "alert %s %s: %s (%s)", alert.rule, state, alert.summary, alert.key)


# -- the notification job -----------------------------------------------------------------
def register_notify(app: Hourhand) -> None:
    """Register ``hourhand.notify`` on an app: send one notification through one channel
    of the app's config (retried with backoff while the channel fails)."""

    async def notify(ctx: JobContext, channel: str, note: dict[str, Any]) -> dict[str, Any]:
        return await deliver(app, channel, note_from(note))

    app.job(
        NOTIFY_JOB,
        queue=NOTIFY_QUEUE,
        retry=NOTIFY_RETRY,
        max_attempts=NOTIFY_ATTEMPTS,
        timeout=120,
    )(notify)
    # through hh.ops only a cluster admin may enqueue one (it sends through any channel)
    app.registry[NOTIFY_JOB] = replace(app.registry[NOTIFY_JOB], admin_only=True)


def note_from(data: dict[str, Any]) -> Notification:
    """A notification from a notification job's ``note``."""
    from hourhand.channels import Notification

    at = data.get("at")
    return Notification(
        rule=str(data.get("rule", "")),
        kind=str(data.get("kind", "")),
        severity=str(data.get("severity", "info")),
        state=str(data.get("state", "firing")),
        summary=str(data.get("summary", "")),
        details=dict(data.get("details") or {}),
        at=datetime.fromisoformat(at) if isinstance(at, str) else datetime.now(UTC),
    )


async def deliver(app: Hourhand, channel: str, note: Notification) -> dict[str, Any]:
    """Send a notification through the named channel of the app's config; what was done
    (for the job's result). DeliveryFailed if the channel does not take it, NotFound if
    the config has no such channel."""
    from hourhand.channels import send_email, send_log, send_webhook

    config = app.alerting
    found = config.channels.get(channel)
    if found is None:
        known = ", ".join(sorted(config.channels)) or "none"
        raise NotFound(f"no channel {channel!r} in the config file (channels: {known})")
    if isinstance(found, WebhookChannel):
        status = await asyncio.to_thread(send_webhook, found, note, name=channel)
        return {"channel": channel, "status": status}
    if isinstance(found, EmailChannel):
        if config.smtp is None:  # (the config check makes this impossible)
            raise ConfigurationError(f"channel {channel} sends e-mail: add an [smtp] table")
        await send_email(config.smtp, found, note, name=channel)
        return {"channel": channel, "to": list(found.to)}
    assert isinstance(found, LogChannel)
    send_log(found, note)
    return {"channel": channel}
