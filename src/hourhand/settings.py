"""Settings, resolved in one place: ``hourhand.toml`` and ``HOURHAND_*`` environment
variables (pydantic-settings), a variable overriding the file's key of the same name::

    database = "postgresql://hourhand@db/hourhand"    # HOURHAND_DATABASE
    listen_database = "postgresql://..."              # HOURHAND_LISTEN_DATABASE

    [smtp]                                            # HOURHAND_SMTP_HOST, _PORT, _SENDER,
    host = "127.0.0.1"                                #   _USERNAME, _PASSWORD, _TLS, _TIMEOUT
    sender = "hourhand@example.com"

    [retention]                                       # HOURHAND_RETENTION_COMPLETED_DAYS,
    completed_days = 7                                #   _FAILED_DAYS, _CANCELLED_DAYS, ...
    [retention.queues.reports]                        # HOURHAND_RETENTION_QUEUES (JSON)
    completed_days = 1

    [dashboard]                                       # HOURHAND_DASHBOARD_SECRET_KEY
    secret_key = "..."                                #   (signs the session cookies)

A variable's name is ``HOURHAND_`` and the key, or the table and the key, in capitals;
a table's variables merge into the file's table key by key (``HOURHAND_SMTP_PASSWORD``
adds a password to the file's ``[smtp]``), and any ``HOURHAND_SMTP_*`` or
``HOURHAND_RETENTION_*`` variable makes the table exist without a file. Every problem is one
line naming the key and where it came from: the file and its table, or the variable.
``[channels.*]`` and ``[alerts.*]`` are tables of names: ``HOURHAND_CHANNELS`` and
``HOURHAND_ALERTS`` are JSON objects of such tables by name, added to the file's (an entry
replaces the file's entry of the same name), so a webhook's URL and secret, or a rule, can
come from the environment. ``[schedules.*]`` are read from the file only (config.py);
``[smtp]`` is checked here and given to the alerting tables.

Not settings of this model: ``HOURHAND_CONFIG`` (which file) and ``HOURHAND_APP`` (the CLI's
``--app``), ``HOURHAND_HEALTH_*`` (ops/health.py's thresholds).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hourhand.alert_config import AlertingConfig, SmtpSettings, check_alerting
from hourhand.builtin.config import secret_env
from hourhand.config import SETTING_KEYS, check_tables, read_toml
from hourhand.errors import ConfigurationError
from hourhand.retention_config import RetentionSettings
from hourhand.store import check_url, mask_password

ENV_PREFIX = "HOURHAND_"
SETTING_TABLES = ("smtp", "retention", "dashboard")  # tables of the file that variables may set too
_MESSAGES = {"extra_forbidden": "unknown key", "missing": "required"}
JSON_VARIABLES = {
    "SMTP",
    "RETENTION",
    "RETENTION_QUEUES",
    "DASHBOARD",
}  # (no prefix) values in JSON
JSON_EXAMPLE = """HOURHAND_RETENTION_QUEUES='{"reports": {"completed_days": 1}}'"""
# tables of names that a JSON variable may add to (or replace entries of) by name
NAMED_TABLES = ("channels", "alerts")
NAMED_EXAMPLES = {
    "channels": """HOURHAND_CHANNELS='{"ops-hook": {"kind": "webhook", "url": "https://..."}}'""",
    "alerts": """HOURHAND_ALERTS='{"dead": {"kind": "dead_letter", "channels": ["ops-hook"]}}'""",
}


class DashboardSettings(BaseModel):
    """``[dashboard]``: the key that signs session cookies (at least 32 characters; by
    default a random key kept in the database, which every replica shares)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_key: SecretStr | None = Field(default=None, min_length=32)


class HourhandSettings(BaseSettings):
    """The settings a variable may give: the file's values come in as init values, and a
    ``HOURHAND_*`` variable overrides them (see the module's docstring)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,  # HOURHAND_RETENTION_COMPLETED_DAYS: retention.completed_days
        case_sensitive=False,
        env_ignore_empty=True,  # HOURHAND_DATABASE= is no setting, as before
        extra="forbid",
        frozen=True,
    )

    database: str | None = None
    listen_database: str | None = None
    smtp: SmtpSettings | None = None
    retention: RetentionSettings | None = None
    dashboard: DashboardSettings | None = None

    @field_validator("database", "listen_database")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_url(value)
            except ConfigurationError as exc:  # (its message shows the URL: not a password)
                raise ValueError(str(exc).replace(value, mask_password(value))) from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # first wins: the environment, then the file


@dataclass(frozen=True)
class Settings:
    """What an app runs with: the settings of one config file (or none) and the
    environment. ``hh.settings``."""

    path: Path | None = None  # the config file read (None: the environment only)
    database: str | None = None
    listen_database: str | None = None
    smtp: SmtpSettings | None = None
    retention: RetentionSettings | None = None  # None: no retention policy, nothing pruned
    alerting: AlertingConfig = field(default_factory=AlertingConfig)
    dashboard: DashboardSettings | None = None
    from_env: frozenset[str] = frozenset()  # the HOURHAND_* variables that set something

    def summary(self) -> dict[str, Any]:
        """What is set and from where, for ``hourhand config check`` (no secrets)."""
        return {
            "file": None if self.path is None else str(self.path),
            "database": self.database is not None,
            "smtp": self.smtp is not None,
            "retention": None if self.retention is None else self.retention.described(),
            "environment": sorted(self.from_env),
        }


def load_settings(path: str | Path | None) -> Settings:
    """The settings of the config file at ``path`` (None: none) under the environment.
    ConfigurationError lists every problem, one a line, each naming the key and the file
    and table, or the variable."""
    data = read_toml(path) if path is not None else {}
    where = str(path) if path is not None else "settings"
    check_tables(data, where)
    file_values = {k: data[k] for k in (*SETTING_KEYS, *SETTING_TABLES) if k in data}
    present = _variables()
    problems: list[str] = []
    settings: HourhandSettings | None = None
    try:
        settings = HourhandSettings(**file_values)
    except ValidationError as exc:
        problems += [_problem(error, path, present) for error in exc.errors()]
    except SettingsError as exc:  # a variable that must be JSON (HOURHAND_RETENTION_QUEUES)
        problems.append(_settings_error(exc, present))
    smtp: Any = None if settings is None else settings.smtp
    if settings is None and ("smtp" in file_values or any(v.startswith("SMTP_") for v in present)):
        smtp = SmtpSettings.model_construct()  # its problems are above; check the channels
    data, named = _named_tables(data, problems)
    data = _channel_secrets(data, problems)
    present |= named
    if named:
        where += " with " + ", ".join(sorted(ENV_PREFIX + n for n in named))
    alerting, more = check_alerting(data, where, smtp=smtp)
    problems += more
    if problems or settings is None or alerting is None:
        raise ConfigurationError("\n".join(problems) or f"{where}: not valid")
    return Settings(
        path=None if path is None else Path(path),
        database=settings.database,
        listen_database=settings.listen_database,
        smtp=settings.smtp,
        retention=settings.retention,
        alerting=alerting,
        dashboard=settings.dashboard,
        from_env=frozenset(ENV_PREFIX + v for v in present),
    )


def _named_tables(data: dict[str, Any], problems: list[str]) -> tuple[dict[str, Any], set[str]]:
    """The file's data with the tables of names that ``HOURHAND_CHANNELS`` and
    ``HOURHAND_ALERTS`` give (JSON objects of tables by name; a variable's entry replaces
    the file's entry of that name), and which of the two were set."""
    out, named = dict(data), set()
    for table in NAMED_TABLES:
        variable = table.upper()
        raw = os.environ.get(_actual(variable))
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            example = NAMED_EXAMPLES[table]
            problems.append(f"{ENV_PREFIX}{variable}: not a JSON object of tables (e.g. {example})")
            continue
        file_tables = out.get(table, {})
        out[table] = {**(file_tables if isinstance(file_tables, dict) else {}), **value}
        named.add(variable)
    return out, named


CHANNEL_SECRET_KEYS = ("url", "secret")  # a channel's values that may be { secret = "NAME" }


def _channel_secrets(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The data with each channel's ``url`` and ``secret`` written as ``{ secret = "NAME" }``
    replaced by the secret's value: ``HOURHAND_SECRET_<NAME>``, else ``[secrets] NAME``
    (as the built-in kinds read theirs), so that a webhook's address and signing key stay
    out of the file. A secret that is set nowhere is a problem naming both places."""
    channels = data.get("channels")
    if not isinstance(channels, dict):
        return data
    held = data.get("secrets")
    file_secrets = held if isinstance(held, dict) else {}
    out: dict[str, Any] = {}
    for name, table in channels.items():
        if isinstance(table, dict):
            table = dict(table)
            for key in CHANNEL_SECRET_KEYS:
                ref = table.get(key)
                if not (isinstance(ref, dict) and set(ref) == {"secret"}):
                    continue
                secret = ref["secret"]
                value = os.environ.get(secret_env(str(secret))) or file_secrets.get(secret)
                if isinstance(value, str) and value:
                    table[key] = value
                else:
                    problems.append(
                        f"channels.{name}.{key}: secret {secret!r} is not set (set "
                        f"{secret_env(str(secret))} or add {secret} to [secrets])"
                    )
                    table.pop(key)
        out[name] = table
    return {**data, "channels": out}


def _variables() -> set[str]:
    """The settings' variables that are set (non-empty), without the prefix, in capitals:
    {"DATABASE", "SMTP_PORT", ...}."""
    names = {"DATABASE", "LISTEN_DATABASE"}
    tables = tuple(f"{t.upper()}_" for t in SETTING_TABLES)
    found = set()
    for key, value in os.environ.items():
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX) or not value:
            continue
        rest = upper[len(ENV_PREFIX) :]
        if rest in names or rest in JSON_VARIABLES or rest.startswith(tables):
            found.add(rest)
    return found


def _problem(error: Any, path: str | Path | None, present: set[str]) -> str:
    """One line for one pydantic error: the variable that set the key, else the file's
    table and key."""
    loc = [str(p) for p in error["loc"]]
    message = _MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
    variable = "_".join(loc[:2]).upper()
    if variable in present and _from_variable(variable, loc[2:]):
        inner = ".".join(loc[2:])
        return f"{ENV_PREFIX}{variable}: " + (f"'{inner}': " if inner else "") + message
    table, key = _table_and_key(loc)
    named = ": ".join(part for part in (table, f"'{key}'" if key else "") if part)
    if error["type"] == "missing" and path is None:
        return f"{named}: required: set {ENV_PREFIX}{variable} (or the key in a config file)"
    if error["type"] == "missing":
        message += f" (or set {ENV_PREFIX}{variable})"
    where = f"{path}: " if path is not None else ""
    return f"{where}{named}: {message}"


def _from_variable(variable: str, inner: list[str]) -> bool:
    """Whether the key at ``inner`` came from the variable: a JSON variable merges into the
    file's table, so the key may be the file's."""
    if not inner:
        return True
    try:
        value: Any = json.loads(os.environ[_actual(variable)])
    except (ValueError, KeyError):
        return True
    for part in inner:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _table_and_key(loc: list[str]) -> tuple[str, str]:
    """``("[retention.queues.reports]", "completed_days")`` from a pydantic location."""
    if len(loc) == 1:
        return ("", loc[0]) if loc[0] in SETTING_KEYS else (f"[{loc[0]}]", "")
    if loc[0] == "retention" and len(loc) > 2 and loc[1] == "queues":
        return f"[retention.queues.{loc[2]}]", ".".join(loc[3:])
    return f"[{loc[0]}]", ".".join(loc[1:])


def _settings_error(exc: SettingsError, present: set[str]) -> str:
    """A variable pydantic-settings could not decode: one that takes JSON (a table, or the
    per-queue overrides) and holds something else."""
    bad = []
    for name in sorted(present & JSON_VARIABLES):
        try:
            json.loads(os.environ[_actual(name)])
        except (ValueError, KeyError):
            bad.append(ENV_PREFIX + name)
    if bad:
        return f"{', '.join(bad)}: not valid JSON (e.g. {JSON_EXAMPLE})"
    return f"{ENV_PREFIX}*: {exc}"


def _actual(name: str) -> str:
    """The variable's name as set (variables are matched whatever their case)."""
    wanted = ENV_PREFIX + name
    return next((k for k in os.environ if k.upper() == wanted), wanted)
