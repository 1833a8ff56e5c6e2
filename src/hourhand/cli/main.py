"""The command group: app and database options, logging, and errors as one-line messages.

Bad input exits with code 2 and a message naming the problem (never a traceback).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from hourhand.app import Hourhand, database_from_env
from hourhand.errors import HourhandError, InvalidInput

BAD_INPUT_EXIT = 2


class Settings:
    """What the group options resolved to; the app is loaded on first use."""

    def __init__(self, app_path: str | None, database: str | None) -> None:
        self.app_path = app_path
        self.database = database
        self._app: Hourhand | None = None

    def app(self, *, required: bool = False) -> Hourhand:
        if self._app is None:
            if self.app_path:
                self._app = load_app(self.app_path)
                if self.database:
                    self._app.database_url = self.database
            elif required:
                raise InvalidInput(
                    "this command needs your app: pass --app module:attribute or set HOURHAND_APP"
                )
            else:
                self._app = Hourhand(self.database or database_from_env())
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def load_app(path: str) -> Hourhand:
    """Import ``module:attribute`` (the current directory is importable)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"bad --app {path!r}: expected module:attribute, e.g. myapp.jobs:hh")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {module_name!r} for --app: {exc}") from exc
    app = getattr(module, attr, None)
    if not isinstance(app, Hourhand):
        raise InvalidInput(f"--app {path!r} is not an Hourhand instance")
    return app


class Group(click.Group):
    """Turns hourhand's errors into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HourhandError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(BAD_INPUT_EXIT)


@click.group(cls=Group)
@click.option("--app", "app_path", envvar="HOURHAND_APP", help="Your app, as module:attribute.")
@click.option(
    "--database",
    envvar="HOURHAND_DATABASE",
    help="Database URL (default sqlite:///hourhand.db).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.version_option(package_name="hourhand")
@click.pass_context
def cli(ctx: click.Context, app_path: str | None, database: str | None, log_level: str) -> None:
    """hourhand: background jobs and schedules on SQLite or PostgreSQL."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings(app_path, database)
    ctx.obj = settings
    ctx.call_on_close(settings.close)


def main() -> None:
    cli(prog_name="hourhand")


# Register the subcommands (they import this module's cli group).
from hourhand.cli import cron, demo, jobs, queues, run, schedules  # noqa: E402, F401
