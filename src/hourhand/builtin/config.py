"""The tables of ``hourhand.toml`` that the built-in job kinds read, checked with pydantic
so that every mistake is one message naming the file, the table and the key::

    [databases.reports]                 # hourhand.sql's database="reports"
    url = { secret = "REPORTS_DB" }     # or url = "postgresql://..." / "sqlite:///..."
    timeout = 60                        # default statement timeout, seconds
    read_only = false

    [secrets]                           # values for {"secret": "NAME"} references
    API_TOKEN = "..."                   # HOURHAND_SECRET_API_TOKEN wins over this

    [email]                             # hourhand.email
    templates = "emails"                # text_file/html_file live here (beside this file)

    [kinds.refresh-tenant]              # a custom kind: a preset of a built-in one
    base = "hourhand.http"
    description = "Ask a tenant's API to refresh"
    args = { method = "POST", url = "https://api.example.com/tenants/{tenant}/refresh" }
    params.tenant = { type = "string", description = "The tenant's id" }

The database named ``default`` is the app's own unless ``[databases.default]`` says
otherwise. Secrets are ``SecretStr``: they print as ``**********``. This module holds the
definitions only; how a custom kind becomes a job type is in custom.py.
"""

from __future__ import annotations

import keyword
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hourhand.errors import ConfigurationError
from hourhand.store import locate  # the database URLs hourhand itself accepts

BUILTIN_TABLES = ("databases", "secrets", "email", "kinds")
BASE_KINDS = ("hourhand.http", "hourhand.sql", "hourhand.email")
SECRET_ENV_PREFIX = "HOURHAND_SECRET_"  # noqa: S105 (HOURHAND_SECRET_<NAME, upper case>)
DEFAULT_DATABASE_NAME = "default"  # the app's own database
DEFAULT_STATEMENT_TIMEOUT = 60.0  # seconds
SECRET_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # noqa: S105 (a pattern of names)
PARAM_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
PARAM_TYPES = ("string", "integer", "number", "boolean", "array", "object", "any")

Seconds = Annotated[float, Field(gt=0, le=24 * 3600)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
SecretName = Annotated[str, Field(pattern=SECRET_NAME, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    """``{ secret = "NAME" }``: a value kept out of the file and out of job arguments."""

    secret: SecretName


class DatabaseSettings(_Strict):
    """``[databases.NAME]``: a database ``hourhand.sql`` may run statements on."""

    url: str | SecretRef  # postgresql://... or sqlite:///...; a secret reference hides it
    timeout: Seconds = DEFAULT_STATEMENT_TIMEOUT  # statement timeout when a job sets none
    read_only: bool = False  # statements run in a read-only transaction

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | SecretRef) -> str | SecretRef:
        if isinstance(value, str):
            try:
                locate(value)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return value


class EmailSettings(_Strict):
    """``[email]``: where ``hourhand.email`` finds template files."""

    templates: str | None = None  # a folder; relative to the config file's folder


class KindParam(_Strict):
    """``[kinds.NAME.params.PARAM]``: one parameter a custom kind takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["string", "integer", "number", "boolean", "array", "object", "any"] = "string"
    description: str | None = None
    default: Any = None  # absent: the parameter is required
    choices: list[str | int | float] | None = Field(default=None, min_length=1)

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set

    @model_validator(mode="after")
    def _default_fits(self) -> KindParam:
        if self.choices is not None:
            for choice in self.choices:
                if not _fits(self.type, choice):
                    raise ValueError(f"the choice {choice!r} is not of type {self.type}")
        if not self.required:
            if not _fits(self.type, self.default):
                raise ValueError(f"the default {self.default!r} is not of type {self.type}")
            if self.choices is not None and self.default not in self.choices:
                raise ValueError(f"the default {self.default!r} is not one of the choices")
        return self


def _fits(kind: str, value: Any) -> bool:
    """Whether a TOML value is of a parameter type (as the job's JSON will be checked)."""
    if kind == "any":
        return True
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = {"string": str, "boolean": bool, "array": list, "object": dict}[kind]
    return isinstance(value, expected)


class KindSettings(_Strict):
    """``[kinds.NAME]``: a custom job kind, a preset of one of the built-in kinds."""

    base: Literal["hourhand.http", "hourhand.sql", "hourhand.email"]
    description: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)  # the base kind's arguments
    params: dict[Annotated[str, Field(pattern=PARAM_NAME, max_length=100)], KindParam] = Field(
        default_factory=dict
    )
    # job options (default: the base kind's)
    queue: Name | None = None
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    max_attempts: int | None = Field(default=None, ge=1, le=10_000)
    timeout: Seconds | None = None  # per attempt
    concurrency: int | None = Field(default=None, ge=1, le=1_000_000)
    rate_limit: str | None = None  # "100/m"
    # seconds to wait before each retry, the last repeating (Retry.fixed); none: the base's
    retry_delays: list[float] | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, KindParam]) -> dict[str, KindParam]:
        for name in value:
            if keyword.iskeyword(name):
                raise ValueError(f"{name!r} cannot be a parameter's name (a Python keyword)")
        return value


class BuiltinSettings(_Strict):
    """The ``[databases.*]``, ``[secrets]``, ``[email]`` and ``[kinds.*]`` tables of one
    file (empty: no file read)."""

    databases: dict[Name, DatabaseSettings] = Field(default_factory=dict)
    secrets: dict[SecretName, SecretStr] = Field(default_factory=dict)
    email: EmailSettings = Field(default_factory=EmailSettings)
    kinds: dict[Name, KindSettings] = Field(default_factory=dict)
    folder: Path | None = None  # the config file's folder (relative paths start there)

    @field_validator("kinds")
    @classmethod
    def _kind_names(cls, value: dict[str, KindSettings]) -> dict[str, KindSettings]:
        for name in value:
            if name.startswith("hourhand."):
                raise ValueError(f"[kinds.{name}]: names starting hourhand. are the built-in ones")
        return value

    def secret(self, name: str) -> str | None:
        """A secret's value: ``HOURHAND_SECRET_<NAME>`` if set, else ``[secrets] NAME``;
        None if neither has it."""
        value = os.environ.get(secret_env(name))
        if value:
            return value
        held = self.secrets.get(name)
        return None if held is None else held.get_secret_value()

    def templates_folder(self) -> Path | None:
        if self.email.templates is None:
            return None
        folder = Path(self.email.templates)
        if not folder.is_absolute() and self.folder is not None:
            folder = self.folder / folder
        return folder


def secret_env(name: str) -> str:
    """The environment variable of secret ``name``."""
    return SECRET_ENV_PREFIX + name.upper()


def builtin_from(data: dict[str, Any], path: str | Path) -> BuiltinSettings:
    """The built-in kinds' tables of a parsed TOML file; ConfigurationError names the file,
    the table and the key of the first problem (and how many more there are)."""
    tables = {key: data[key] for key in BUILTIN_TABLES if key in data}
    folder = Path(path).resolve().parent
    try:
        settings = BuiltinSettings.model_validate({**tables, "folder": folder})
    except ValidationError as exc:
        errors = _relevant(exc.errors())
        first = errors[0]
        message = {"extra_forbidden": "unknown key", "missing": "required"}.get(
            first["type"], str(first["msg"]).removeprefix("Value error, ")
        )
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigurationError(f"{path}: {_where(first['loc'])}{message}{more}") from None
    templates = settings.templates_folder()
    if templates is not None and not templates.is_dir():
        raise ConfigurationError(f"{path}: [email]: 'templates': {templates} is not a folder")
    return settings


def _relevant(errors: list[Any]) -> list[Any]:
    """The errors without those of a union's branch the value is not of: a table given
    for ``str | SecretRef`` is not also "not a string"."""
    kept = [
        e
        for e in errors
        if not (e["type"] == "string_type" and isinstance(e.get("input"), dict))
        and not (e["type"] in ("model_type", "dict_type") and isinstance(e.get("input"), str))
    ]
    return kept or errors


def _where(loc: tuple[int | str, ...]) -> str:
    """``[kinds.NAME]: 'params.tenant.type': `` from a pydantic location."""
    parts = [str(p) for p in loc]
    if not parts:
        return ""
    if parts[0] in ("databases", "kinds") and len(parts) > 1:
        table, rest = f"[{parts[0]}.{parts[1]}]", parts[2:]
    else:
        table, rest = f"[{parts[0]}]", parts[1:]
    # the branch of a union (url: str | SecretRef) is not a key anyone wrote
    rest = [r for r in rest if r not in ("str", "SecretRef", "[key]")]
    rest = [r for r in rest if not r.startswith("function-")]
    key = f" '{'.'.join(rest)}':" if rest else ""
    return f"{table}:{key} "
