"""``config check``: are the config file and the ``HOURHAND_*`` variables right, before a
deploy finds out."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import echo_json
from hourhand.config import config_path, load_schedules
from hourhand.humanize import plural
from hourhand.retention_config import PRUNABLE_STATES, RetentionSettings

pass_settings = click.make_pass_decorator(Settings)


@cli.group("config")
def config_group() -> None:
    """The config file (hourhand.toml) and the HOURHAND_* variables."""


@config_group.command("check")
@click.argument("path", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print what the file defines.")
@pass_settings
def check(settings: Settings, path: str | None, as_json: bool) -> None:
    """Check a config file (PATH, else HOURHAND_CONFIG, else ./hourhand.toml; none: the
    variables alone) under the HOURHAND_* variables: its schedules (with --app, also their
    job types and arguments), channels, alert rules, [smtp], [retention], databases and
    custom kinds (each against its base kind). Every problem is one line naming the key
    and the file and table, or the variable (exit code 2)."""
    settings.config = path
    found = config_path(path)
    app = settings.app(required=bool(settings.app_path))
    if settings.app_path and found is not None:
        app.load_config(found)
        schedules = sorted(app.config_schedules)
    elif found is not None:
        schedules = sorted(e.spec.name for e in load_schedules(found))
        app.load_kinds(found)  # the built-in kinds are on every app: presets of them check
    else:
        app.load_settings(None)
        schedules = []
    resolved = app.settings
    alerting = resolved.alerting
    if as_json:
        echo_json(
            {
                **resolved.summary(),
                "schedules": schedules,
                "channels": sorted(alerting.channels),
                "alerts": sorted(alerting.alerts),
                "databases": sorted(app.builtin.databases),
                "kinds": sorted(app.custom_kinds),
            }
        )
        return
    checked = "" if settings.app_path else " (pass --app to check job types and arguments too)"
    where = str(found) if found is not None else "no config file, the variables"
    kinds = f", {plural(len(app.custom_kinds), 'custom kind')}" if app.custom_kinds else ""
    click.echo(
        f"{where}: ok: {plural(len(schedules), 'schedule')}, "
        f"{plural(len(alerting.channels), 'channel')}, "
        f"{plural(len(alerting.alerts), 'alert rule')}{kinds}; "
        f"retention: {describe_retention(resolved.retention)}{checked}"
    )
    if resolved.from_env:
        click.echo(f"set by variables: {', '.join(sorted(resolved.from_env))}")


def describe_retention(retention: RetentionSettings | None) -> str:
    """``completed 7 d, failed 30 d, cancelled 30 d (+2 queues), at '15 * * * *' UTC``."""
    if retention is None:
        return "none"
    if not retention.enabled:
        return "disabled"
    parts = []
    for state in PRUNABLE_STATES:
        days = retention.days(state)
        parts.append(f"{state} {'kept' if days is None else f'{days:g} d'}")
    queues = f" (+{plural(len(retention.queues), 'queue')})" if retention.queues else ""
    return f"{', '.join(parts)}{queues}, at {retention.schedule!r} {retention.tz}"
