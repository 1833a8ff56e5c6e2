"""Alert rules and notification channels as ``hourhand.toml`` declares them: the
``[smtp]`` table, ``[channels.NAME]`` and ``[alerts.NAME]`` tables, checked with pydantic
so that every mistake is one message naming the file, the table and the key::

    [smtp]
    host = "127.0.0.1"
    port = 2525
    sender = "hourhand@example.com"

    [channels.ops-hook]
    kind = "webhook"
    url = "http://127.0.0.1:9000/hook"

    [channels.ops-mail]
    kind = "email"
    to = ["ops@example.com"]

    [alerts.reports-failing]
    kind = "failures_in_a_row"
    job = "reports:generate"
    count = 3
    severity = "critical"
    channels = ["ops-hook", "ops-mail"]

This module holds the definitions only (data, below everything that evaluates or sends).
Secrets (SMTP password, webhook signing secret) are ``SecretStr``: they print as ``**********``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from hourhand.errors import ConfigurationError

RULE_KINDS = (
    "failures_in_a_row",
    "failure_rate",
    "long_running",
    "missed_schedule",
    "queue_backlog",
    "dead_letter",
    "no_workers",
)
SEVERITIES = ("critical", "warning", "info")
Seconds = Annotated[float, Field(gt=0, le=10 * 365 * 86400)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    """Where e-mail goes: ``[smtp]`` (``HOURHAND_SMTP_PASSWORD`` may hold the password)."""

    host: Name
    port: int = Field(default=25, ge=1, le=65535)
    sender: Name
    username: str | None = None
    password: SecretStr | None = None
    tls: Literal["none", "starttls", "tls"] = "none"
    timeout: Seconds = 30.0


# The organisations whose own alert rules (made with their API keys) may send through a
# channel: none by default, so that a cluster's webhook or mailbox is the cluster's.
Orgs = Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=1000)]


class WebhookChannel(_Strict):
    kind: Literal["webhook"]
    orgs: Orgs = Field(default_factory=list)
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)]
    format: Literal["json", "slack", "teams"] = "json"
    secret: SecretStr | None = None  # signs the body: X-Hourhand-Signature (HMAC-SHA256)
    timeout: Seconds = 10.0


class EmailChannel(_Strict):
    kind: Literal["email"]
    orgs: Orgs = Field(default_factory=list)
    to: Annotated[list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]], Field(min_length=1)]
    subject_prefix: str = "[hourhand]"


class LogChannel(_Strict):
    kind: Literal["log"]
    orgs: Orgs = Field(default_factory=list)
    level: Literal["info", "warning", "error"] = "warning"


Channel = Annotated[WebhookChannel | EmailChannel | LogChannel, Field(discriminator="kind")]

# the parameters each rule kind needs (besides its target)
REQUIRED: dict[str, tuple[str, ...]] = {
    "failures_in_a_row": ("count",),
    "failure_rate": ("rate",),
    "long_running": (),  # longer_than, or factor (k x the type's recent p95)
    "missed_schedule": (),  # grace, or no_success_for
    "queue_backlog": (),  # ready_above, or oldest_ready_above
    "dead_letter": (),
    "no_workers": ("for_",),
}
EITHER: dict[str, tuple[str, str]] = {
    "long_running": ("longer_than", "factor"),
    "missed_schedule": ("grace", "no_success_for"),
    "queue_backlog": ("ready_above", "oldest_ready_above"),
}


class AlertRule(_Strict):
    """One ``[alerts.NAME]``: a condition (``kind`` and its parameters) on a target, how
    serious it is, and where notifications go."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Literal[
        "failures_in_a_row",
        "failure_rate",
        "long_running",
        "missed_schedule",
        "queue_backlog",
        "dead_letter",
        "no_workers",
    ]
    severity: Literal["critical", "warning", "info"] = "warning"
    channels: list[Name] = Field(default_factory=list)
    enabled: bool = True
    # the target (none: everything)
    queue: Name | None = None
    job: Name | None = None
    schedule: Name | None = None
    org: Name | None = None
    # parameters, by kind
    count: int | None = Field(default=None, ge=1, le=1_000_000)  # failures in a row
    rate: float | None = Field(default=None, gt=0, le=100)  # percent of runs failed
    window: Seconds = 3600.0  # failure_rate: the runs of this last period
    min_runs: int = Field(default=10, ge=1)  # failure_rate: fewer runs decide nothing
    longer_than: Seconds | None = None  # long_running
    factor: float | None = Field(default=None, gt=1, le=1000)  # long_running: x p95
    grace: Seconds | None = None  # missed_schedule: a fire time late by more than this
    no_success_for: Seconds | None = None  # missed_schedule: the dead man's switch
    ready_above: int | None = Field(default=None, ge=0)  # queue_backlog
    oldest_ready_above: Seconds | None = None  # queue_backlog
    for_: Seconds | None = Field(default=None, alias="for")  # no_workers: for this long
    repeat: Seconds | None = None  # notify again while still firing, this often

    @model_validator(mode="after")
    def _parameters(self) -> AlertRule:
        for key in REQUIRED[self.kind]:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.kind} rule needs '{key.rstrip('_')}'")
        if self.kind in EITHER:
            one, other = EITHER[self.kind]
            if getattr(self, one) is None and getattr(self, other) is None:
                raise ValueError(f"a {self.kind} rule needs '{one}' or '{other}'")
        if self.kind == "missed_schedule" and self.schedule is None:
            raise ValueError("a missed_schedule rule needs 'schedule'")
        if self.kind in ("queue_backlog", "no_workers") and self.org is not None:
            raise ValueError(
                f"a {self.kind} rule watches queues, which every organisation shares: "
                "it takes no 'org'"
            )
        return self


class AlertingConfig(_Strict):
    """The ``[smtp]``, ``[channels.*]`` and ``[alerts.*]`` tables of one file."""

    smtp: SmtpSettings | None = None
    channels: dict[Name, Channel] = Field(default_factory=dict)
    alerts: dict[Name, AlertRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> AlertingConfig:
        for name, rule in self.alerts.items():
            for channel in rule.channels:
                if channel not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none"
                    raise ValueError(
                        f"[alerts.{name}]: unknown channel {channel!r} (channels: {known})"
                    )
        mail = [n for n, c in self.channels.items() if isinstance(c, EmailChannel)]
        if mail and self.smtp is None:
            raise ValueError(f"[channels.{mail[0]}] sends e-mail: add an [smtp] table")
        return self


ALERTING_TABLES = ("smtp", "channels", "alerts")


_FROM_DATA: Any = object()  # check_alerting's smtp default: the data's own [smtp] table


def alerting_from(data: dict[str, Any], path: str | Path) -> AlertingConfig:
    """The alerting tables of a parsed TOML file; ConfigurationError lists every problem,
    one a line, each naming the file, the table and the key."""
    config, problems = check_alerting(data, path)
    if config is None:
        raise ConfigurationError("\n".join(problems))
    return config


def check_alerting(
    data: dict[str, Any], path: str | Path, *, smtp: Any = _FROM_DATA
) -> tuple[AlertingConfig | None, list[str]]:
    """The alerting tables of a parsed TOML file, or None and the problems (one line
    each). ``smtp``: the ``[smtp]`` settings to use instead of the data's (settings.py
    gives the file's table with the environment's variables over it)."""
    tables = {key: data[key] for key in ALERTING_TABLES if key in data}
    if smtp is not _FROM_DATA:
        tables.pop("smtp", None)
        if smtp is not None:
            tables["smtp"] = smtp
    try:
        return AlertingConfig.model_validate(tables), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = {"extra_forbidden": "unknown key", "missing": "required"}.get(
                error["type"], str(error["msg"]).removeprefix("Value error, ")
            )
            problems.append(f"{path}: {_where(error['loc'])}{message}")
        return None, problems


def rule_from(data: dict[str, Any], where: str) -> AlertRule:
    """One alert rule from a mapping (code, the API); ConfigurationError names the key."""
    try:
        return AlertRule.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        key = ".".join(str(p).rstrip("_") for p in first["loc"])
        message = {"extra_forbidden": "unknown key", "missing": "required"}.get(
            first["type"], str(first["msg"]).removeprefix("Value error, ")
        )
        at = f" '{key}':" if key else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigurationError(f"{where}:{at} {message}{more}") from None


def _where(loc: tuple[int | str, ...]) -> str:
    """``[alerts.NAME]: 'count': `` from a pydantic location."""
    parts = [str(p) for p in loc]
    if not parts:
        return ""
    if parts[0] == "smtp":
        table, rest = "[smtp]", parts[1:]
    elif parts[0] in ("channels", "alerts") and len(parts) > 1:
        table, rest = f"[{parts[0]}.{parts[1]}]", parts[2:]
        if parts[0] == "channels" and rest and rest[0] in ("webhook", "email", "log"):
            rest = rest[1:]  # the discriminator's branch
    else:
        table, rest = f"[{parts[0]}]", parts[1:]
    key = f" '{'.'.join(r.rstrip('_') for r in rest)}':" if rest else ""
    return f"{table}:{key} "
