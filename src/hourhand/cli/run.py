"""``migrate`` and ``worker``."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.schedules import load_config
from hourhand.worker import (
    DEFAULT_CONCURRENCY,
    DEFAULT_GRACE,
    DEFAULT_LEASE,
    DEFAULT_POLL_INTERVAL,
    parse_queues,
)

pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@pass_settings
def migrate(settings: Settings) -> None:
    """Create or upgrade the database schema (safe to run from several processes); with
    --app, also sync the app's code schedules into it (the config file's schedules are
    the scheduler's to sync: they may name job types this app lacks)."""
    app = settings.app(create=True)
    applied = app.migrate()
    current = app.schema_version()
    if applied:
        click.echo(f"applied migrations {', '.join(map(str, applied))}; now at {current}")
    else:
        click.echo(f"schema up to date at migration {current}")


@cli.command()
@click.option("--queues", help="Comma-separated queues, each queue or queue:LIMIT (default: all).")
@click.option("--concurrency", type=int, default=DEFAULT_CONCURRENCY, show_default=True)
@click.option("--lease", type=float, default=DEFAULT_LEASE, show_default=True, help="Seconds.")
@click.option("--grace", type=float, default=DEFAULT_GRACE, show_default=True, help="Seconds.")
@click.option("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, show_default=True)
@click.option("--worker-id", help="Default: host:pid:random.")
@click.option(
    "--config",
    help="Config file: custom kinds, databases, secrets, [smtp] and the alert channels "
    "(default: HOURHAND_CONFIG or ./hourhand.toml if present).",
)
@pass_settings
def worker(
    settings: Settings,
    queues: str | None,
    concurrency: int,
    lease: float,
    grace: float,
    poll_interval: float,
    worker_id: str | None,
    config: str | None,
) -> None:
    """Run jobs until SIGTERM or Ctrl-C (a second one skips the grace period)."""
    settings.config = config
    app = settings.app(required=True, create=True)
    load_config(settings, config, schedules=False)  # kinds, databases, secrets, channels
    names, limits = parse_queues(queues)
    app.worker(
        queues=names,
        queue_limits=limits,
        concurrency=concurrency,
        lease=lease,
        grace=grace,
        poll_interval=poll_interval,
        worker_id=worker_id,
    ).run()
