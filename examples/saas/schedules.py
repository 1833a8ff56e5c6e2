"""Users' schedules: the seed's ``scheduled_jobs`` rows, which users make through the API
(daily, weekly or monthly) and its ``Scheduler`` service polled every minute. In hourhand
they are user schedules of the user's organisation (``hh.schedules.create(...,
org_id=..., created_by=...)`` in code, ``POST /v1/schedules`` with the organisation's key
through the API: see client.py); every run is a user job of that organisation, made for
that user. Nothing polls: the scheduler fires each one exactly once per fire time."""

from __future__ import annotations

from typing import Literal

from examples.saas.jobs.reports import JOB_TYPE as REPORT
from examples.saas.jobs.reports import Format, Period
from hourhand import Hourhand
from hourhand.schedule_model import Schedule
from hourhand.schedules import daily, monthly, weekly

Frequency = Literal["daily", "weekly", "monthly"]
PERIODS: dict[Frequency, Period] = {"daily": "day", "weekly": "week", "monthly": "month"}
# the seed's Scheduler polled for due rows, so a report due while it was down ran at its
# next poll, once: hourhand's misfire policy "once" (its default, "skip", would drop it)
MISFIRE = "once"


def cron_for(frequency: Frequency, at: str = "08:00", day: str | int | None = None) -> str:
    """The cron expression of a frequency: every day at ``at``; every week on ``day``
    (MON..SUN, default MON); every month on ``day`` (1-31 or "last", default 1)."""
    if frequency == "daily":
        return daily(at)
    if frequency == "weekly":
        return weekly(str(day or "MON"), at)
    return monthly(1 if day is None else day, at)


def report_schedule_name(frequency: Frequency, user_id: str) -> str:
    return f"{frequency}-report-{user_id}"


def schedule_report(
    hh: Hourhand,
    org_id: str,
    user_id: str,
    frequency: Frequency,
    *,
    at: str = "08:00",
    day: str | int | None = None,
    tz: str = "UTC",
    format: Format = "csv",
) -> Schedule:
    """A user's recurring orders report over the period its frequency covers (a daily
    schedule reports on the last day, a weekly one on the last week...), at ``at`` in the
    user's zone; missed while no scheduler ran, it runs once when one is back."""
    return hh.schedules.create(
        report_schedule_name(frequency, user_id),
        REPORT,
        cron_for(frequency, at, day),
        tz=tz,
        args={"period": PERIODS[frequency], "format": format},
        org_id=org_id,
        created_by=user_id,
        misfire=MISFIRE,
    )
