"""``workers``: the worker and scheduler processes running now."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, print_table, when
from hourhand.humanize import plural
from hourhand.ops.actor import Actor
from hourhand.ops.workers import Workers
from hourhand.store import ProcessInfo

pass_settings = click.make_pass_decorator(Settings)


@cli.command("workers")
@click.option("--all", "include_dead", is_flag=True, help="Also those that stopped beating.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def workers(settings: Settings, include_dead: bool, as_json: bool) -> None:
    """The worker and scheduler processes that beat within the last 30 seconds; with --all
    also those that stopped without a clean stop (kept an hour)."""
    found = Workers(settings.app()).list(Actor.cli(), include_dead=include_dead)
    if as_json:
        echo_json([p.to_dict() for p in found])
        return
    print_table(
        PROCESS_COLUMNS, [process_row(p) for p in found], plural(len(found), "process", "processes")
    )


PROCESS_COLUMNS = (
    Column("kind"),
    Column("host", wrap=True),
    Column("pid", "right"),
    Column("queues", wrap=True),
    Column("running", "right"),
    Column("completed", "right"),
    Column("failed", "right"),
    Column("started (UTC)"),
    Column("last seen (UTC)"),
    Column("state"),
    Column("id", wrap=True),
)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def process_row(p: ProcessInfo) -> list[Cell]:
    running = _count(p.running)
    if p.concurrency is not None:
        running += f"/{p.concurrency}"
    return [
        p.kind,
        p.host,
        str(p.pid),
        ("*" if p.queues is None else ",".join(p.queues)) if p.kind == "worker" else "-",
        running if p.kind == "worker" else "-",
        _count(p.completed) if p.kind == "worker" else "-",
        _count(p.failed) if p.kind == "worker" else "-",
        when(p.started_at),
        when(p.last_seen_at),
        "alive" if p.alive else "dead",
        p.id,
    ]
