"""Retention as ``hourhand.toml`` declares it: the ``[retention]`` table (and its
``[retention.queues.NAME]`` overrides), checked with pydantic like the alerting tables::

    [retention]
    completed_days = 7           # completed jobs are deleted 7 days after they finished
    failed_days = 30             # the dead-letter set: kept longer, to look at and retry
    cancelled_days = 30
    alerts_days = 90             # alert history
    ledger_days = 90             # schedules' ledgers of fire times
    batch_size = 1000            # jobs per short transaction
    pause = 0.1                  # seconds between two batches
    schedule = "15 * * * *"      # when the system schedule hourhand.retention runs (UTC)

    [retention.queues.reports]
    completed_days = 1           # this queue's completed jobs go sooner; the rest as above

A number of days may be fractional (``0.5``: twelve hours), or ``"never"``: jobs of that
state (in that queue) are kept. This module holds the definitions only (data); the pruning
is retention.py's, the system schedule the app's.

``RetentionPolicy`` is also the shape of the ``hourhand.retention`` job's arguments: the
schedule passes the whole policy, so a worker that never read the config file prunes by it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from hourhand.cron import Cron, zone
from hourhand.errors import HourhandError

PRUNABLE_STATES = ("completed", "failed", "cancelled")  # finished jobs, what retention deletes
MAX_DAYS = 3650.0  # ten years: checks.MAX_DELAY
MAX_BATCH = 100_000  # jobs per transaction
MAX_PAUSE = 60.0  # seconds between batches
# Defaults, and why: completed jobs are the bulk of any history and nothing reads them once
# counted (counts, statistics and metrics come from the rollup, which pruning leaves alone);
# failed jobs are the dead-letter set, kept for a person to look at and retry; cancelled
# ones explain what someone stopped. A month covers a holiday.
DEFAULT_COMPLETED_DAYS = 7.0
DEFAULT_FAILED_DAYS = 30.0
DEFAULT_CANCELLED_DAYS = 30.0
DEFAULT_ALERTS_DAYS = 90.0  # a quarter of incidents, for a review
DEFAULT_LEDGER_DAYS = 90.0  # a quarter of fire times (a schedule's last success is kept)
DEFAULT_BATCH = 1000  # jobs per transaction: a few milliseconds of row locks (seed 004)
DEFAULT_PAUSE = 0.1  # seconds: other writers get the table between batches
# Hourly, at a quarter past (away from the top of the hour, when many schedules fire):
# each run then deletes about an hour's worth of jobs, a few seconds of work for most
# systems, rather than a day's at once.
DEFAULT_SCHEDULE = "15 * * * *"
NEVER = "never"


def _never(value: Any) -> Any:
    """``"never"`` (any case) is None: kept forever. Other text must be a number (what an
    environment variable holds)."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() == NEVER:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f'expected a number of days or "never", got {value!r}') from None


# days after a job finished, or None ("never"): kept
Days = Annotated[
    Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)] | None,
    BeforeValidator(_never),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueRetention(_Strict):
    """``[retention.queues.NAME]``: the days of this queue's jobs; a state left out keeps
    the ``[retention]`` table's days."""

    completed_days: Days = None
    failed_days: Days = None
    cancelled_days: Days = None

    def days(self, state: str, default: float | None) -> float | None:
        key = f"{state}_days"
        if key not in self.model_fields_set:
            return default
        days: float | None = getattr(self, key)
        return days

    def given_states(self) -> set[str]:
        """The states this table sets days for."""
        return {key.removesuffix("_days") for key in self.model_fields_set}

    def given(self) -> dict[str, float | None]:
        """The states this table sets (JSON: ``null`` for "never")."""
        return {key: getattr(self, key) for key in sorted(self.model_fields_set)}


class RetentionPolicy(_Strict):
    """What is deleted, and how fast: the ``hourhand.retention`` job's arguments."""

    completed_days: Days = DEFAULT_COMPLETED_DAYS
    failed_days: Days = DEFAULT_FAILED_DAYS
    cancelled_days: Days = DEFAULT_CANCELLED_DAYS
    alerts_days: Days = DEFAULT_ALERTS_DAYS
    ledger_days: Days = DEFAULT_LEDGER_DAYS
    batch_size: int = Field(default=DEFAULT_BATCH, ge=1, le=MAX_BATCH)
    pause: float = Field(default=DEFAULT_PAUSE, ge=0, le=MAX_PAUSE, allow_inf_nan=False)
    queues: dict[Annotated[str, Field(min_length=1, max_length=200)], QueueRetention] = Field(
        default_factory=dict
    )

    def days(self, state: str, queue: str | None = None) -> float | None:
        """Days a job of ``state`` (in ``queue``) is kept after it finished; None: kept."""
        default: float | None = getattr(self, f"{state}_days")
        if queue is not None and queue in self.queues:
            return self.queues[queue].days(state, default)
        return default

    def job_args(self) -> dict[str, Any]:
        """The policy as the job's JSON arguments (per-queue tables: only what they set)."""
        args: dict[str, Any] = {
            key: getattr(self, key)
            for key in (
                "completed_days",
                "failed_days",
                "cancelled_days",
                "alerts_days",
                "ledger_days",
                "batch_size",
                "pause",
            )
        }
        args["queues"] = {name: q.given() for name, q in sorted(self.queues.items())}
        return args


class RetentionSettings(RetentionPolicy):
    """``[retention]``: the policy, and the system schedule that applies it."""

    enabled: bool = True
    schedule: str = DEFAULT_SCHEDULE  # cron, in ``tz``
    tz: str = "UTC"
    queue: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # of the job

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            return Cron.parse(value).expr
        except HourhandError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except HourhandError as exc:
            raise ValueError(str(exc)) from None
        return value

    def described(self) -> dict[str, Any]:
        """The table as JSON: the policy (per-queue tables: what they set) and schedule."""
        schedule = {"enabled": self.enabled, "schedule": self.schedule, "tz": self.tz}
        return {**self.job_args(), **schedule, "queue": self.queue}

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy.model_validate(self.job_args())
