"""``prune``: delete old finished jobs (or see what would go)."""

from __future__ import annotations

import click

from hourhand.app import PRUNED_STATES
from hourhand.cli.main import Settings, cli
from hourhand.cli.output import echo_json
from hourhand.humanize import duration, plural

pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(0, 3650),
    required=True,
    help="Days since the job finished.",
)
@click.option(
    "--state",
    "states",
    type=click.Choice(PRUNED_STATES),
    multiple=True,
    help="Only jobs in this state (repeat it; default: completed, cancelled and failed).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def prune(
    settings: Settings, days: float, states: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Delete finished jobs (and their attempts) that finished more than --older-than days
    ago, in short batches. Counts, statistics and metrics keep what they counted."""
    result = settings.ops().retention.prune(
        settings.actor, days * 86400, states or PRUNED_STATES, dry_run=dry_run
    )
    if as_json:
        echo_json(
            {
                "dry_run": result.dry_run,
                "older_than_s": result.older_than,
                "matched": result.matched,
                "deleted": result.deleted,
            }
        )
        return
    total = sum(result.matched.values())
    parts = ", ".join(f"{n} {state}" for state, n in sorted(result.matched.items()) if n)
    age = duration(result.older_than)
    if dry_run:
        click.echo(
            f"would delete {plural(total, 'job')} finished over {age} ago"
            + (f" ({parts})" if parts else "")
        )
    else:
        click.echo(f"deleted {plural(result.deleted, 'job')} finished over {age} ago")
