"""The command group: app and database options, logging, and errors as one-line messages.

Bad input exits with code 2 and a message naming the problem (never a traceback): hourhand's
own errors and click's usage errors (an unknown option, a missing argument, a bad choice)
alike. ``--app``, ``--database`` and ``--log-level`` are accepted before the command and
after it (``hourhand jobs list --database X``); after it, they win.

Which commands may create a database: those that add something (``enqueue``, ``migrate``,
``worker``, ``scheduler``, ``serve``, ``demo``, ``schedules add``) ask for
``settings.app(create=True)``; every other command reads, and a missing database is an
error naming the file it looked for, never a new empty one.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from hourhand.app import Hourhand
from hourhand.config import config_path
from hourhand.errors import DatabaseNotFound, HourhandError, InvalidInput
from hourhand.ops import Actor, Operations
from hourhand.store import DEFAULT_DATABASE

BAD_INPUT_EXIT = 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MISSING_DATABASE_HINT = (
    '(run "hourhand migrate" to create it, or pass --database / set HOURHAND_DATABASE)'
)


class Settings:
    """What the options resolved to, and where each came from; the app is loaded on first
    use."""

    def __init__(
        self,
        app_path: str | None,
        database: str | None,
        *,
        app_source: str | None = None,
        database_source: str | None = None,
    ) -> None:
        self.app_path = app_path
        self.database = database
        self.app_source = app_source  # "--app" or "HOURHAND_APP" (None: no app given)
        self.database_source = database_source  # "--database" or "HOURHAND_DATABASE"
        self._app: Hourhand | None = None
        self.actor = Actor.cli()  # who the audit log says acted
        # the command's --config (None: HOURHAND_CONFIG, else ./hourhand.toml): the file
        # whose `database` the app takes when none is given (set before the app is made)
        self.config: str | None = None

    def ops(self, *, create: bool = False) -> Operations:
        """The operations layer of the app (what every command that reads or acts uses)."""
        return self.app(create=create).ops

    def app(self, *, required: bool = False, create: bool = False) -> Hourhand:
        """The app (from --app, or a bare one on --database). ``create``: the command adds
        something, so it may create the database; reading commands never do."""
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
                self._app = Hourhand(self.database)
            if self.database:
                self._app.database_origin = self.database_source or "--database"
            else:  # a database named by the config file (hourhand.toml)
                self._app.use_config_databases(config_path(self.config))
            self._app.create = create
        elif create:  # a later call that may create (before the store is opened) wins
            self._app.create = True
        return self._app

    def database_origin(self) -> str:
        """Where the database URL came from: --database, HOURHAND_DATABASE, app (set in the
        app's code) or default."""
        if self.database:
            return self.database_source or "--database"
        if self._app is not None and self._app.database_origin not in ("default", "argument"):
            return self._app.database_origin  # a config file (or HOURHAND_DATABASE)
        if self._app is not None and self.app_path and self._app.database_url != DEFAULT_DATABASE:
            return "app"
        return "default"

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
    app: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(app, part):
            owner = ".".join([module_name, *attr.split(".")[:i]])
            hint = ""
            if i == 0 and _is_module(f"{module_name}.{part}"):
                hint = f" ({module_name}.{part} is a module: write {module_name}.{part}:ATTRIBUTE)"
            raise InvalidInput(f"bad --app {path!r}: {owner} has no attribute {part!r}{hint}")
        app = getattr(app, part)
    if not isinstance(app, Hourhand):
        raise InvalidInput(
            f"bad --app {path!r}: {attr} is {_what(app)}, not an Hourhand instance "
            "(e.g. hh = Hourhand())"
        )
    return app


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _what(value: Any) -> str:
    """A short description of a value, for a message."""
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if callable(value) and hasattr(value, "__name__"):
        return f"the function {value.__name__}()"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


# -- the options every command takes ---------------------------------------------------------


def _override(name: str, source: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """Callback of a command's own --app/--database: it overrides the group's value."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        settings = ctx.find_object(Settings)
        if settings is None:  # only while click builds help or completions
            return
        setattr(settings, name, value)
        setattr(settings, f"{name.removesuffix('_path')}_source", source)

    return callback


def _set_log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        logging.getLogger().setLevel(value.upper())


def shared_options() -> list[click.Parameter]:
    """``--app``, ``--database`` and ``--log-level`` for a command, overriding the group's.
    (No environment variables here: those are read by the group, once.)"""
    return [
        click.Option(
            ["--app", "app_path"],
            expose_value=False,
            callback=_override("app_path", "--app"),
            help="Your app, as module:attribute [env HOURHAND_APP].",
        ),
        click.Option(
            ["--database"],
            expose_value=False,
            callback=_override("database", "--database"),
            help="Database URL [env HOURHAND_DATABASE; default sqlite:///hourhand.db].",
        ),
        click.Option(
            ["--log-level"],
            expose_value=False,
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            callback=_set_log_level,
        ),
    ]


def _with_shared(params: list[click.Parameter] | None) -> list[click.Parameter]:
    params = list(params or [])
    names = {p.name for p in params}
    return params + [p for p in shared_options() if p.name not in names]


class UsageError(click.ClickException):
    """A click usage error, shown as one line like hourhand's own errors."""

    exit_code = BAD_INPUT_EXIT

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def one_line(exc: click.UsageError) -> UsageError:
    message = " ".join(exc.format_message().split()).rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    command = exc.ctx.command_path if exc.ctx is not None else "hourhand"
    return UsageError(f'{message} (see "{command} --help")')


class Command(click.Command):
    """A command that also takes the shared options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["params"] = _with_shared(kwargs.get("params"))
        super().__init__(*args, **kwargs)


class Group(click.Group):
    """Turns hourhand's errors and click's usage errors into one line and exit code 2;
    its commands and subgroups take the shared options."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["params"] = _with_shared(kwargs.get("params"))
        super().__init__(*args, **kwargs)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:  # the top-level options (below: in invoke)
            raise one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:  # a subcommand's options and arguments
            raise one_line(exc) from None
        except DatabaseNotFound as exc:
            click.echo(f"error: {exc} {MISSING_DATABASE_HINT}", err=True)
            ctx.exit(BAD_INPUT_EXIT)
        except HourhandError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(BAD_INPUT_EXIT)


def _source(ctx: click.Context, name: str, option: str, env: str) -> str | None:
    found = ctx.get_parameter_source(name)
    if found == ParameterSource.COMMANDLINE:
        return option
    if found == ParameterSource.ENVIRONMENT:
        return env
    return None


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
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
)
@click.version_option(package_name="hourhand")
@click.pass_context
def cli(ctx: click.Context, app_path: str | None, database: str | None, log_level: str) -> None:
    """hourhand: background jobs and schedules on SQLite or PostgreSQL.

    --app, --database and --log-level may also follow any command."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings(
        app_path,
        database,
        app_source=_source(ctx, "app_path", "--app", "HOURHAND_APP"),
        database_source=_source(ctx, "database", "--database", "HOURHAND_DATABASE"),
    )
    ctx.obj = settings
    ctx.call_on_close(settings.close)


def main() -> None:
    cli(prog_name="hourhand")


# Register the subcommands (they import this module's cli group).
from hourhand.cli import (  # noqa: E402, F401
    alerts,
    config,
    cron,
    demo,
    info,
    jobs,
    keys,
    prune,
    queues,
    run,
    schedules,
    users,
    web,
    workers,
)
