"""``alerts test CHANNEL``: a sample notification through a channel of the config file."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.config import config_path
from hourhand.errors import InvalidInput

pass_settings = click.make_pass_decorator(Settings)


@cli.group("alerts")
def alerts() -> None:
    """Alert rules and their channels (hourhand.toml)."""


@alerts.command("test")
@click.argument("channel")
@click.option("--config", "path", help="Config file (default: HOURHAND_CONFIG or ./hourhand.toml).")
@pass_settings
def test(settings: Settings, channel: str, path: str | None) -> None:
    """Send a test notification through CHANNEL now: exit code 0 if it was taken."""
    found = config_path(path)
    if found is None:
        raise InvalidInput(
            "no config file: pass --config, set HOURHAND_CONFIG or add ./hourhand.toml"
        )
    app = settings.app()
    app.load_alerting(found)
    settings.ops().alerts.send_test(settings.actor, channel)
    click.echo(f"test notification sent through channel {channel}")
