"""``alerts list|show|ack|unack|silence|rules|test``: alerts and their rules, as the command
line (a cluster admin) sees them."""

from __future__ import annotations

import re

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, line, print_fields, print_table, when
from hourhand.config import config_path
from hourhand.errors import InvalidInput
from hourhand.humanize import plural
from hourhand.ops import Operations
from hourhand.store import AlertRow

pass_settings = click.make_pass_decorator(Settings)
CONFIG_HELP = "Config file (default: HOURHAND_CONFIG or ./hourhand.toml)."
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@cli.group("alerts")
def alerts() -> None:
    """Alerts (firing, pending, past), their rules, and test notifications."""


def _ops(settings: Settings, path: str | None, *, required: bool = False) -> Operations:
    """The operations, with the config file's channels and rules read (if the app did not
    read a config file itself)."""
    app = settings.app()
    found = config_path(path)
    if found is None and required:
        raise InvalidInput(
            "no config file: pass --config, set HOURHAND_CONFIG or add ./hourhand.toml"
        )
    if found is not None and app.config_path is None:
        app.load_alerting(found)
    return settings.ops()


@alerts.command("list")
@click.option(
    "--state",
    type=click.Choice(["open", "pending", "firing", "resolved"]),
    help="Only these (default: all, newest first).",
)
@click.option("--rule", help="Only this rule's alerts.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_alerts(
    settings: Settings, state: str | None, rule: str | None, limit: int, as_json: bool
) -> None:
    """Alerts, newest first."""
    found = settings.ops().alerts.list(settings.actor, state=state, rule=rule, limit=limit)
    if as_json:
        echo_json([a.to_dict() for a in found])
        return
    print_table(ALERT_COLUMNS, [_row(a) for a in found], plural(len(found), "alert"))


@alerts.command("show")
@click.argument("alert_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def show(settings: Settings, alert_id: int, as_json: bool) -> None:
    """One alert with its details."""
    alert = settings.ops().alerts.get(settings.actor, alert_id)
    if as_json:
        echo_json(alert.to_dict())
        return
    rows: list[tuple[str, Cell]] = [
        ("id", str(alert.id)),
        ("rule", f"{alert.rule} ({alert.kind}, {alert.severity})"),
        ("state", alert.state),
        ("about", alert.key),
        ("summary", alert.summary),
        ("opened (UTC)", when(alert.opened_at)),
        ("fired (UTC)", when(alert.fired_at)),
        ("resolved (UTC)", when(alert.resolved_at)),
        ("notifications", f"{alert.notifications}, last {when(alert.notified_at)}"),
        ("acknowledged", f"{when(alert.acked_at)} by {alert.acked_by}" if alert.acked_at else "-"),
        ("silenced until", when(alert.silenced_until)),
    ]
    rows += [(key, str(value)) for key, value in sorted(alert.details.items())]
    print_fields(rows)


@alerts.command("ack")
@click.argument("alert_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--undo", is_flag=True, help="Take the acknowledgement back.")
@pass_settings
def ack(settings: Settings, alert_id: int, undo: bool) -> None:
    """Acknowledge alert ID: it is not notified again while it fires (its end still is)."""
    alert = settings.ops().alerts.ack(settings.actor, alert_id, undo=undo)
    line(f"alert {alert.id} ({alert.rule}) {'no longer ' if undo else ''}acknowledged")


@alerts.command("silence")
@click.argument("alert_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--for", "span", default="1h", show_default=True, help="How long: 30m, 2h, 1d.")
@click.option("--end", is_flag=True, help="End the alert's silence now.")
@pass_settings
def silence(settings: Settings, alert_id: int, span: str, end: bool) -> None:
    """Send nothing about alert ID for a while."""
    seconds = None if end else _seconds(span)
    alert = settings.ops().alerts.silence(settings.actor, alert_id, seconds)
    if alert.silenced_until is None:
        line(f"alert {alert.id} ({alert.rule}) is no longer silenced")
    else:
        line(f"alert {alert.id} ({alert.rule}) silenced until {when(alert.silenced_until)} UTC")


@alerts.command("rules")
@click.option("--config", "path", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def rules(settings: Settings, path: str | None, as_json: bool) -> None:
    """The alert rules: the config file's, the code's and those made through the API."""
    settings.config = path
    found = _ops(settings, path).alerts.rules(settings.actor)
    if as_json:
        echo_json([r.to_dict() for r in found])
        return
    rows: list[list[Cell]] = []
    for info in found:
        rule = info.rule
        target = ", ".join(
            f"{k} {v}"
            for k, v in (("job", rule.job), ("schedule", rule.schedule), ("queue", rule.queue))
            if v
        )
        rows.append(
            [
                info.name,
                info.source,
                rule.kind,
                rule.severity,
                target or "all",
                ", ".join(rule.channels) or "-",
                "yes" if rule.enabled else "no",
            ]
        )
    print_table(RULE_COLUMNS, rows, plural(len(found), "rule"))


@alerts.command("test")
@click.argument("channel")
@click.option("--config", "path", help=CONFIG_HELP)
@pass_settings
def test(settings: Settings, channel: str, path: str | None) -> None:
    """Send a test notification through CHANNEL now: exit code 0 if it was taken."""
    settings.config = path
    _ops(settings, path, required=True).alerts.send_test(settings.actor, channel)
    click.echo(f"test notification sent through channel {channel}")


def _seconds(span: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", span)
    if match is None:
        raise InvalidInput(f"--for {span!r}: expected a duration such as 90s, 30m, 2h or 1d")
    return float(match[1]) * UNITS[match[2] or "s"]


def _row(alert: AlertRow) -> list[Cell]:
    flags = []
    if alert.acked_at:
        flags.append("acked")
    if alert.silenced_until:
        flags.append("silenced")
    return [
        str(alert.id),
        alert.state,
        alert.severity,
        alert.rule,
        alert.summary,
        when(alert.fired_at or alert.opened_at),
        when(alert.resolved_at),
        ", ".join(flags),
    ]


ALERT_COLUMNS = (
    Column("id", "right"),
    Column("state"),
    Column("severity"),
    Column("rule"),
    Column("summary", wrap=True),
    Column("since (UTC)"),
    Column("resolved (UTC)"),
    Column("flags"),
)
RULE_COLUMNS = (
    Column("name"),
    Column("source"),
    Column("kind"),
    Column("severity"),
    Column("target", wrap=True),
    Column("channels", wrap=True),
    Column("enabled"),
)
