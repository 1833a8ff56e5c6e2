"""``prune``: delete old finished jobs (or see what would go), by hand or by the retention
policy of the settings."""

from __future__ import annotations

import click

from hourhand.app_operators import PRUNED_STATES
from hourhand.cli.main import Settings, cli
from hourhand.cli.output import echo_json
from hourhand.config import config_path
from hourhand.errors import InvalidInput
from hourhand.humanize import duration, plural
from hourhand.retention import RetentionReport

pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(0, 3650),
    help="Days since the job finished (default: by the [retention] policy).",
)
@click.option(
    "--state",
    "states",
    type=click.Choice(PRUNED_STATES),
    multiple=True,
    help="Only jobs in this state (repeat it; default: completed, cancelled and failed).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--config", help="Config file (default: HOURHAND_CONFIG or ./hourhand.toml).")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def prune(
    settings: Settings,
    days: float | None,
    states: tuple[str, ...],
    dry_run: bool,
    config: str | None,
    as_json: bool,
) -> None:
    """Delete finished jobs (and their attempts) that finished more than --older-than days
    ago, in short batches. Without --older-than, by the retention policy of the settings
    ([retention] in the config file, HOURHAND_RETENTION_* variables): what its schedule,
    hourhand.retention, deletes. Counts, statistics and metrics keep what they counted."""
    settings.config = config
    if days is None:
        if states:
            raise InvalidInput("--state needs --older-than (the policy names its own states)")
        app = settings.app()
        app.load_settings(config_path(config))
        report = settings.ops().retention.apply_policy(settings.actor, dry_run=dry_run)
        show_policy_run(report, as_json)
        return
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


def show_policy_run(report: RetentionReport, as_json: bool) -> None:
    if as_json:
        echo_json(report.to_dict())
        return
    if report.dry_run:
        total = sum(report.matched.values())
        click.echo(f"the retention policy would delete {plural(total, 'job')}:")
    else:
        click.echo(
            f"deleted {plural(report.deleted, 'job')} by the retention policy "
            f"({plural(report.batches, 'batch', 'batches')}, the longest "
            f"{duration(report.longest_batch)})"
        )
    for rule in report.rules:
        n = sum((rule.matched or {}).values()) if report.dry_run else rule.deleted
        click.echo(
            f"  {rule.rule.describe()}, finished over {_days(rule.rule.older_than)} ago: {n}"
        )


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} day" if days == 1 else f"{days:g} days"
