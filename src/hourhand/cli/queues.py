"""``queues list|pause|resume``."""

from __future__ import annotations

import click
from rich.text import Text

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, print_table, when
from hourhand.humanize import plural
from hourhand.store import QueueInfo

pass_settings = click.make_pass_decorator(Settings)


@cli.group()
def queues() -> None:
    """List, pause and resume queues."""


@queues.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_queues(settings: Settings, as_json: bool) -> None:
    """Queues with ready or running jobs, paused ones and your app's (with --app)."""
    found = settings.ops().queues.list(settings.actor)
    if as_json:
        echo_json([q.to_dict() for q in found])
    else:
        print_table(QUEUE_COLUMNS, [queue_row(q) for q in found], plural(len(found), "queue"))


@queues.command("pause")
@click.argument("name")
@pass_settings
def pause(settings: Settings, name: str) -> None:
    """Stop workers from starting jobs of queue NAME (running ones finish)."""
    queue = settings.ops(create=True).queues.pause(settings.actor, name)
    if queue.ready or queue.running:
        click.echo(
            f"queue {name!r} paused: workers start none of its {plural(queue.ready, 'ready job')} "
            f"until it is resumed; {plural(queue.running, 'running job')} finish"
        )
    else:
        click.echo(
            f"queue {name!r} paused: it has no ready or running jobs now; jobs that arrive "
            "in it wait until it is resumed"
        )


@queues.command("resume")
@click.argument("name")
@pass_settings
def resume(settings: Settings, name: str) -> None:
    """Let workers start jobs of queue NAME again, at once."""
    queue = settings.ops(create=True).queues.resume(settings.actor, name)
    click.echo(f"queue {name!r} resumed: {plural(queue.ready, 'ready job')}")


QUEUE_COLUMNS = (
    Column("queue", wrap=True),
    Column("state"),
    Column("ready", "right"),
    Column("running", "right"),
    Column("paused/resumed (UTC)"),
)


def queue_row(q: QueueInfo) -> list[Cell]:
    return [
        q.name,
        Text("paused", style="bold red") if q.paused else Text("active", style="green"),
        str(q.ready),
        str(q.running),
        when(q.changed_at),
    ]
