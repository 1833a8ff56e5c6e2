"""``hourhand.toml``: schedules kept in a config file (and the other tables: the alerting
ones, whose definitions are in alert_config.py, ``[retention]`` in retention_config.py; the
settings that environment variables may also give are resolved in settings.py).

::

    [schedules.DraftCleanup]
    enabled = true
    cron = "0 3 * * *"
    tz = "Europe/Stockholm"
    job = "drafts:cleanup"
    args = { older_than_days = 30 }
    batch_size = 100          # any other key is passed to the handler as an argument

Known keys: ``job`` and ``cron`` (required), ``enabled``, ``tz``, ``args``, ``queue``,
``priority``, ``max_attempts``, ``timeout``, ``misfire``, ``misfire_cap``,
``catchup_window``, ``overlap``, ``jitter``. Any other key must be a parameter of the job's
handler (checked when the app loads the file): a misspelt option is an error, not an
argument. So is an unknown table (``[schedule.X]`` for ``[schedules.X]``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hourhand.alert_config import ALERTING_TABLES, AlertingConfig
from hourhand.builtin.config import BUILTIN_TABLES
from hourhand.errors import ConfigurationError, HourhandError
from hourhand.schedule_model import ScheduleSpec

DEFAULT_CONFIG = "hourhand.toml"
# the top-level tables hourhand.toml may have (the built-in kinds': hourhand/builtin/config.py)
TABLES = ("schedules", *ALERTING_TABLES, "retention", "dashboard", *BUILTIN_TABLES)
SETTING_KEYS = ("database", "listen_database")  # its keys outside any table (settings.py)
OPTION_KEYS: dict[str, type | tuple[type, ...]] = {
    "queue": str,
    "priority": int,
    "max_attempts": int,
    "timeout": (int, float),
    "misfire": str,
    "misfire_cap": int,
    "catchup_window": (int, float),
    "overlap": str,
    "jitter": (int, float),
}


def config_path(explicit: str | None) -> Path | None:
    """The config file to read: the one given, else HOURHAND_CONFIG, else ./hourhand.toml
    if there is one."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("HOURHAND_CONFIG")
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


@dataclass(frozen=True)
class ConfigSchedule:
    """One ``[schedules.NAME]`` table."""

    spec: ScheduleSpec
    where: str  # "path: [schedules.NAME]", for messages
    extra_keys: tuple[str, ...]  # keys that are not options: arguments for the handler


def read_toml(path: str | Path) -> dict[str, Any]:
    """A config file's tables; ConfigurationError if it is missing or not TOML."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"config file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None


def file_databases(path: str | Path | None) -> tuple[str | None, str | None]:
    """The ``database`` and ``listen_database`` a config file names (None: none), read
    without its other settings: every CLI command needs these, only some the rest."""
    if path is None:
        return None, None
    data = read_toml(path)
    found = [data.get(key) for key in SETTING_KEYS]
    for key, value in zip(SETTING_KEYS, found, strict=True):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{path}: '{key}' must be a database URL (a string)")
    return found[0], found[1]


def check_tables(data: dict[str, Any], where: str | Path) -> None:
    """ConfigurationError for a table or key hourhand.toml does not have."""
    for key, value in data.items():
        if key not in TABLES and key not in SETTING_KEYS:
            what = f"table [{key}]" if isinstance(value, dict) else f"key {key!r}"
            known = ", ".join(f"[{t}]" for t in TABLES)
            raise ConfigurationError(
                f"{where}: unknown {what} (known tables: {known}; keys: {', '.join(SETTING_KEYS)})"
            )


def load_alerting(path: str | Path) -> AlertingConfig:
    """The ``[smtp]``, ``[channels.*]`` and ``[alerts.*]`` tables of a TOML file
    (hourhand.alert_config), ``[smtp]`` under the ``HOURHAND_SMTP_*`` variables;
    ConfigurationError names the file, the table and the key (or the variable)."""
    from hourhand.settings import load_settings  # pydantic-settings: only when needed

    return load_settings(path).alerting


def load_schedules(path: str | Path) -> list[ConfigSchedule]:
    """The ``[schedules.*]`` tables of a TOML file; ConfigurationError names the problem
    (the file, the table and the key)."""
    path = Path(path)
    data = read_toml(path)
    check_tables(data, path)
    tables = data.get("schedules", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"{path}: [schedules] must be a table of tables")
    specs = []
    for name, table in tables.items():
        where = f"{path}: [schedules.{name}]"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where} must be a table")
        specs.append(_spec(name, dict(table), where))
    return specs


def _spec(name: str, table: dict[str, Any], where: str) -> ConfigSchedule:
    for key in ("job", "cron"):
        if not isinstance(table.get(key), str):
            raise ConfigurationError(f"{where}: '{key}' is required (a string)")
    args = table.pop("args", {})
    if not isinstance(args, dict):
        raise ConfigurationError(f"{where}: 'args' must be a table")
    enabled = table.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigurationError(f"{where}: 'enabled' must be true or false")
    options: dict[str, Any] = {}
    for key, kind in OPTION_KEYS.items():
        if key in table:
            value = table.pop(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigurationError(f"{where}: '{key}' has the wrong type")
            options[key] = value
    job, cron, tz = table.pop("job"), table.pop("cron"), table.pop("tz", "UTC")
    free = table  # everything else reaches the handler as keyword arguments
    try:
        spec = ScheduleSpec(
            name=name,
            job=job,
            cron=cron,
            tz=tz,
            args={**free, **args},
            source="config",
            enabled=enabled,
            **options,
        ).validated()
    except HourhandError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
    return ConfigSchedule(spec, where, tuple(sorted(free)))


def option_names() -> list[str]:
    return sorted({"job", "cron", "tz", "args", "enabled", *OPTION_KEYS})
