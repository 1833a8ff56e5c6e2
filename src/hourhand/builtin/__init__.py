"""Ready-made job kinds, registered on every app: a schedule or an API call needs no
handler code to make an HTTP request, run a SQL statement or send an e-mail.

- ``hourhand.http`` (http.py): one request; fails unless the answer is expected;
- ``hourhand.sql`` (sql.py): one statement or function call on a named database;
- ``hourhand.email`` (mail.py): an e-mail from Jinja2 templates through ``[smtp]``;
- custom kinds (custom.py): ``[kinds.NAME]`` presets of those, with parameters.

Their settings (``[databases.*]``, ``[secrets]``, ``[email]``, ``[kinds.*]``) are read with
the config file (config.py) and kept as ``hh.builtin``; the SMTP server is ``hh.alerting.smtp``.
Through ``hh.ops`` (the CLI, the API) the three built-in kinds are for cluster admins only:
they reach any URL, database or address; custom kinds are how others get a safe subset.
See docs/builtin-jobs.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourhand.builtin import http, mail, sql
from hourhand.builtin.config import BASE_KINDS, BUILTIN_TABLES, BuiltinSettings, builtin_from
from hourhand.builtin.custom import custom_specs
from hourhand.errors import ConfigurationError

if TYPE_CHECKING:
    from hourhand.alert_config import AlertingConfig, SmtpSettings
    from hourhand.app import Hourhand
    from hourhand.jobs import JobSpec

__all__ = [
    "BASE_KINDS",
    "BUILTIN_TABLES",
    "BuiltinSettings",
    "builtin_from",
    "custom_specs",
    "install_kinds",
    "kinds_from",
    "read_kinds",
    "register",
]


def register(app: Hourhand) -> None:
    """Add the built-in kinds to the app's job types."""
    for make in (http.make_spec, sql.make_spec, mail.make_spec):
        spec = make(app)
        app.registry[spec.name] = spec


def read_kinds(
    app: Hourhand, data: dict[str, Any], path: str | Path, alerting: AlertingConfig
) -> tuple[BuiltinSettings, dict[str, JobSpec]]:
    """The built-in kinds' tables of a parsed config file, and its custom kinds as job
    types of ``app`` (not registered yet); ConfigurationError if one is wrong."""
    settings = builtin_from(data, path)
    return settings, kinds_from(app, settings, alerting.smtp, path)


Installed = tuple[BuiltinSettings, dict[str, "JobSpec"]]


def install_kinds(app: Hourhand, settings: BuiltinSettings, kinds: dict[str, JobSpec]) -> Installed:
    """Put a file's built-in kinds' settings and custom kinds in place of the app's
    previous ones; returns those, to put back. (``[smtp]`` is the app's settings':
    :attr:`Hourhand.alerting`.)"""
    previous = (app.builtin, {name: app.registry[name] for name in app.custom_kinds})
    for name in app.custom_kinds:
        app.registry.pop(name, None)
    app.registry.update(kinds)
    app.custom_kinds = frozenset(kinds)
    app.builtin = settings
    return previous


def kinds_from(
    app: Hourhand, settings: BuiltinSettings, smtp: SmtpSettings | None, path: str | Path
) -> dict[str, JobSpec]:
    """The custom kinds of ``settings`` as job types of ``app`` (not registered yet);
    ConfigurationError if one is wrong or takes the name of a job type of the code."""
    specs = custom_specs({name: app.registry[name] for name in BASE_KINDS}, settings, smtp, path)
    for name in specs:
        if name in app.registry and name not in app.custom_kinds:
            raise ConfigurationError(
                f"{path}: [kinds.{name}]: a job type {name!r} is already registered in code"
            )
    return specs
