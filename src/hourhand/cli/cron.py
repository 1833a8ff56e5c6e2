"""``cron EXPR``: the expression in words and its next fire times, local and UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.text import Text

from hourhand.cli.main import cli
from hourhand.cli.output import Column, echo_json, line, print_table
from hourhand.cron import Cron, zone_warning
from hourhand.errors import InvalidInput


def parse_after(value: str | None) -> datetime:
    """An ISO-8601 time; without an offset it is taken as UTC."""
    if value is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--after {value!r} is not an ISO-8601 time, e.g. 2026-03-29T00:00:00Z"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def warn_about_zone(tz: str) -> None:
    """On stderr: a zone that is a fixed offset (EST, Etc/GMT+5) has no DST."""
    warning = zone_warning(tz)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def preview(cron: Cron, fires: list[datetime], as_json: bool, title: Text | None = None) -> None:
    """Print fire times (the same preview serves ``schedules next``)."""
    if as_json:
        echo_json(
            {
                "expression": cron.expr,
                "tz": cron.tz,
                "description": cron.describe(),
                "fires": [f.isoformat().replace("+00:00", "Z") for f in fires],
            }
        )
        return
    if title is None:
        title = Text.assemble((cron.expr, "bold"), "  ", cron.describe())
    line(title)
    rows = [
        [
            str(n),
            fire.astimezone(cron.zone).strftime("%a %Y-%m-%d %H:%M %Z"),
            fire.strftime("%Y-%m-%d %H:%M"),
        ]
        for n, fire in enumerate(fires, 1)
    ]
    print_table((Column("#", "right"), Column(f"local ({cron.tz})"), Column("UTC")), rows)


@cli.command("cron")
@click.argument("expression")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--after", help="Start from this ISO-8601 time (default: now; no offset = UTC).")
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"fires": [UTC ISO-8601, ...]}.')
def cron_command(expression: str, tz: str, after: str | None, count: int, as_json: bool) -> None:
    """Show a cron EXPRESSION in words and its next fire times."""
    cron = Cron.parse(expression, tz)
    warn_about_zone(tz)
    preview(cron, cron.next_n(parse_after(after), count), as_json)
