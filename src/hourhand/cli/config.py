"""``config check``: is a config file right, before a deploy finds out."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import echo_json
from hourhand.config import config_path, load_schedules
from hourhand.errors import InvalidInput
from hourhand.humanize import plural

pass_settings = click.make_pass_decorator(Settings)


@cli.group("config")
def config_group() -> None:
    """The config file (hourhand.toml)."""


@config_group.command("check")
@click.argument("path", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print what the file defines.")
@pass_settings
def check(settings: Settings, path: str | None, as_json: bool) -> None:
    """Check a config file (PATH, else HOURHAND_CONFIG, else ./hourhand.toml): its
    schedules (with --app, also their job types and arguments), channels, alert rules,
    databases and custom kinds (each against its base kind). The first problem is one line
    naming the file, the table and the key (exit code 2)."""
    found = config_path(path)
    if found is None:
        raise InvalidInput("no config file: pass one, set HOURHAND_CONFIG or add ./hourhand.toml")
    app = settings.app(required=bool(settings.app_path))
    if settings.app_path:
        app.load_config(found)
        schedules = sorted(app.config_schedules)
    else:
        schedules = sorted(entry.spec.name for entry in load_schedules(found))
        app.load_kinds(found)  # the built-in kinds are on every app: presets of them check
    alerting = app.alerting
    if as_json:
        echo_json(
            {
                "file": str(found),
                "schedules": schedules,
                "smtp": alerting.smtp is not None,
                "channels": sorted(alerting.channels),
                "alerts": sorted(alerting.alerts),
                "databases": sorted(app.builtin.databases),
                "kinds": sorted(app.custom_kinds),
            }
        )
        return
    checked = "" if settings.app_path else " (pass --app to check job types and arguments too)"
    kinds = f", {plural(len(app.custom_kinds), 'custom kind')}" if app.custom_kinds else ""
    click.echo(
        f"{found}: ok: {plural(len(schedules), 'schedule')}, "
        f"{plural(len(alerting.channels), 'channel')}, "
        f"{plural(len(alerting.alerts), 'alert rule')}{kinds}{checked}"
    )
