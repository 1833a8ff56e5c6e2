"""``cron EXPR``: the expression in words and its next fire times, local and UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from rich.table import Table

from hourhand.cli.main import cli
from hourhand.cli.output import console, echo_json
from hourhand.cron import Cron
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


def preview(cron: Cron, after: datetime, count: int, as_json: bool, title: str = "") -> None:
    """Print the next ``count`` fire times (the same preview serves ``schedules next``)."""
    fires = cron.next_n(after, count)
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
    console.print(title or f"[bold]{cron.expr}[/]  {cron.describe()}")
    table = Table()
    table.add_column("#", justify="right")
    table.add_column(f"local ({cron.tz})")
    table.add_column("UTC")
    for n, fire in enumerate(fires, 1):
        local = fire.astimezone(cron.zone)
        table.add_row(
            str(n),
            local.strftime("%a %Y-%m-%d %H:%M %Z"),
            fire.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@cli.command("cron")
@click.argument("expression")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--after", help="Start from this ISO-8601 time (default: now; no offset = UTC).")
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"fires": [UTC ISO-8601, ...]}.')
def cron_command(expression: str, tz: str, after: str | None, count: int, as_json: bool) -> None:
    """Show a cron EXPRESSION in words and its next fire times."""
    preview(Cron.parse(expression, tz), parse_after(after), count, as_json)
