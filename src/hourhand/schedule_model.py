"""Recurring schedules, the data: ``ScheduleSpec`` and ``Schedule``, their policies, and
helpers that write common cron expressions. Managed by ``hh.schedules`` (schedules.py).

Schedules come from three sources, kept in one table:

- ``code``: ``@hh.cron(...)`` in your app;
- ``config``: the ``[schedules.NAME]`` tables of ``hourhand.toml``;
- ``user``: created at runtime through ``hh.schedules.create(...)`` (or the CLI/API),
  usually per organisation.

Code and config schedules are synced into the table when a scheduler starts (added,
updated, removed when gone); user schedules are never touched by that sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hourhand import checks
from hourhand.cron import Cron
from hourhand.errors import InvalidInput, NotFound
from hourhand.jobs import MAX_ATTEMPTS, MAX_PRIORITY, check_timeout, encode_args

SOURCES = ("code", "config", "user")
# what an operator may change of a config schedule (kept in ``Schedule.overrides``, applied
# over the config file's values by every sync until reset); its name, job type and
# organisation are the file's
OVERRIDABLE = (
    "cron",
    "tz",
    "args",
    "queue",
    "priority",
    "max_attempts",
    "timeout",
    "misfire",
    "misfire_cap",
    "catchup_window",
    "overlap",
    "jitter",
)
MISFIRE_POLICIES = ("skip", "once", "all")
OVERLAP_POLICIES = ("allow", "skip", "queue")
DEFAULT_MISFIRE = "skip"  # a scheduler that was down does not catch up
DEFAULT_OVERLAP = "skip"  # do not start while the previous run is queued or running
DEFAULT_MISFIRE_CAP = 100  # 'all': at most this many catch-up runs
DEFAULT_CATCHUP_WINDOW = 86400.0  # seconds: 'all' catches up fire times this recent
MAX_JITTER = 86400.0  # seconds
MAX_MISFIRE_CAP = 100_000  # catch-up runs at most
MAX_LISTED = 10  # organisations named in a not-found message
DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleNotFound(NotFound):
    """No schedule with that id or name."""

    def __init__(self, message: str, elsewhere: list[str | None] | None = None) -> None:
        super().__init__(message)
        # a name looked up in one organisation (or outside any) and found in others: their
        # org ids (None: outside any organisation)
        self.elsewhere = elsewhere or []


class ScheduleExists(InvalidInput):
    """A schedule with that name already exists (in that organisation)."""


@dataclass(frozen=True)
class ScheduleSpec:
    """What a schedule is: everything but its runtime state."""

    name: str
    job: str  # the job type it enqueues
    cron: str  # five fields (or a nickname), in ``tz``
    tz: str = "UTC"
    args: dict[str, Any] = field(default_factory=dict)
    source: str = "user"
    org_id: str | None = None
    created_by: str | None = None
    enabled: bool = True
    queue: str | None = None  # job options; None: the job type's
    priority: int | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    misfire: str = DEFAULT_MISFIRE
    misfire_cap: int = DEFAULT_MISFIRE_CAP
    catchup_window: float = DEFAULT_CATCHUP_WINDOW
    overlap: str = DEFAULT_OVERLAP
    jitter: float = 0.0  # seconds

    def validated(self) -> ScheduleSpec:
        """This spec with its cron expression normalized; InvalidInput names any problem."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput("a schedule needs a name of 1 to 200 characters")
        checks.text("a schedule's name", self.name)
        if self.source not in SOURCES:
            raise InvalidInput(f"schedule source must be one of {', '.join(SOURCES)}")
        if self.misfire not in MISFIRE_POLICIES:
            raise InvalidInput(
                f"schedule {self.name!r}: misfire must be one of {', '.join(MISFIRE_POLICIES)}, "
                f"got {self.misfire!r}"
            )
        if self.overlap not in OVERLAP_POLICIES:
            raise InvalidInput(
                f"schedule {self.name!r}: overlap must be one of {', '.join(OVERLAP_POLICIES)}, "
                f"got {self.overlap!r}"
            )
        where = f"schedule {self.name!r}:"
        checks.seconds(f"{where} jitter", self.jitter, maximum=MAX_JITTER)
        checks.integer(f"{where} misfire_cap", self.misfire_cap, 1, MAX_MISFIRE_CAP)
        checks.seconds(f"{where} catchup_window", self.catchup_window, inclusive=False)
        checks.text(f"{where} job", self.job)
        if self.queue is not None:
            checks.text(f"{where} queue", self.queue)
        if self.priority is not None:
            checks.integer(f"{where} priority", self.priority, -MAX_PRIORITY, MAX_PRIORITY)
        if self.max_attempts is not None:
            checks.integer(f"{where} max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)
        if self.timeout is not None:
            check_timeout(f"{where} timeout", self.timeout)
        for what, value in (("org_id", self.org_id), ("created_by", self.created_by)):
            if value is not None:
                checks.text(f"{where} {what}", value)
        encode_args(self.job, self.args)
        cron = Cron.parse(self.cron, self.tz)
        return replace(self, cron=cron.expr)

    @property
    def args_json(self) -> str:
        return encode_args(self.job, self.args)


@dataclass(frozen=True)
class Schedule(ScheduleSpec):
    """A stored schedule and its runtime state."""

    id: int = 0
    next_fire_at: datetime | None = None  # None while disabled
    last_fire_at: datetime | None = None
    last_job_id: int | None = None
    last_status: str | None = None  # the state of its latest run
    last_duration: float | None = None  # seconds
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # ``enabled`` is what the scheduler follows: the operator's override of a code or
    # config schedule if there is one, else what the code, config file or user defines.
    defined_enabled: bool = True
    enabled_override: bool | None = None
    # since when it is disabled; kept after it is enabled again until the scheduler has
    # recorded the fire times in between in the ledger (as 'disabled')
    disabled_at: datetime | None = None
    # an operator's edits of a config schedule ({field: value}, OVERRIDABLE fields), applied
    # over the config file's values by every sync until `reset`
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def parsed(self) -> Cron:
        return Cron.parse(self.cron, self.tz)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


# -- helpers for the common user choices ----------------------------------------------------


def _hhmm(at: str) -> tuple[int, int]:
    match = _TIME_RE.match(at.strip()) if isinstance(at, str) else None
    if not match:
        raise InvalidInput(f"time {at!r} is not HH:MM (00:00 to 23:59)")
    return int(match[1]), int(match[2])


def daily(at: str) -> str:
    """Every day at HH:MM (in the schedule's zone): ``daily("08:00") == "0 8 * * *"``."""
    hour, minute = _hhmm(at)
    return f"{minute} {hour} * * *"


def weekly(day: str, at: str) -> str:
    """Every week on a day (MON..SUN) at HH:MM: ``weekly("MON", "08:00") == "0 8 * * 1"``."""
    key = day.strip().upper()[:3] if isinstance(day, str) else ""
    if key not in DAYS:
        raise InvalidInput(f"day {day!r} is not a weekday (MON, TUE, ... SUN)")
    hour, minute = _hhmm(at)
    return f"{minute} {hour} * * {DAYS[key]}"


def monthly(day: int | str, at: str) -> str:
    """Every month on a day (1-31, or "last") at HH:MM: ``monthly(1, "08:00")``.

    Like cron, a month without that day (31 in April) is skipped; use "last" for the last
    day of every month."""
    hour, minute = _hhmm(at)
    if isinstance(day, str) and day.strip().lower() == "last":
        return f"{minute} {hour} L * *"
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise InvalidInput(f"day of month {day!r} must be 1 to 31 or 'last'")
    return f"{minute} {hour} {day} * *"


def spec_next(spec: ScheduleSpec, now: datetime) -> datetime | None:
    return Cron.parse(spec.cron, spec.tz).next(now)
