"""A small example app: the job types the demo runs (``hourhand demo``)."""

from __future__ import annotations

import asyncio
import random
import time
import zlib

from hourhand.app import Hourhand
from hourhand.errors import DoNotRetry
from hourhand.jobs import JobContext
from hourhand.retry import Retry
from hourhand.schedule_model import ScheduleNotFound, weekly

DEMO_DATABASE = "sqlite:///hourhand-demo.db"


def build_app(database: str = DEMO_DATABASE) -> Hourhand:
    hh = Hourhand(database)

    @hh.job("reports:generate", queue="reports", timeout=60)
    async def generate_report(ctx: JobContext, report_id: str, rows: int = 400) -> dict[str, int]:
        """An async job that reports progress as it goes."""
        for step in range(1, 5):
            await asyncio.sleep(0.15 + random.random() * 0.2)
            await ctx.progress(step * 25, f"{rows * step // 4} of {rows} rows")
        return {"rows": rows}

    @hh.job("emails:send", queue="emails", max_attempts=3, retry=Retry.fixed([1, 2]))
    def send_email(ctx: JobContext, to: str, subject: str) -> dict[str, str]:
        """A sync job; one address in three bounces on the first attempt, then succeeds."""
        time.sleep(0.05 + random.random() * 0.1)
        if ctx.attempt == 1 and zlib.crc32(to.encode()) % 3 == 0:
            raise ConnectionError("SMTP server said 451: try again later")
        return {"to": to, "status": "sent"}

    @hh.job("imports:csv", queue="imports", concurrency=1)
    def import_csv(ctx: JobContext, filename: str, lines: int = 5) -> dict[str, int]:
        """At most one import runs at a time, across all workers."""
        for i in range(lines):
            time.sleep(0.1)
            ctx.progress(100 * (i + 1) / lines, f"line {i + 1}")
        return {"imported": lines}

    @hh.job("drafts:cleanup", retry=Retry.none())
    def cleanup_drafts(ctx: JobContext, older_than_days: int) -> dict[str, int]:
        """Fails for good on bad input: lands in the dead-letter set."""
        if older_than_days < 1:
            raise DoNotRetry(f"older_than_days must be >= 1, got {older_than_days}")
        return {"deleted": older_than_days * 3}

    @hh.job("reminders:send")
    async def send_reminder(ctx: JobContext, user: str) -> None:
        """Enqueued with a delay."""
        await asyncio.sleep(0.05)

    @hh.cron("*/15 * * * *", name="budget-alerts", tz="Europe/Stockholm")
    def budget_alerts(ctx: JobContext) -> dict[str, int]:
        """A system schedule defined in code, like the seeds' pg_cron jobs."""
        return {"alerts": 0}

    return hh


def ensure_demo_schedules(hh: Hourhand) -> None:
    """Sync the code schedule and add a user schedule for the demo organisation, as a user
    of the app would through its settings page."""
    hh.scheduler().sync()
    try:
        hh.schedules.find("weekly-report", org_id="org_demo")
    except ScheduleNotFound:
        hh.schedules.create(
            "weekly-report",
            "reports:generate",
            weekly("MON", "08:00"),
            tz="Europe/Stockholm",
            args={"report_id": "weekly"},
            org_id="org_demo",
            created_by="u_demo",
        )


def enqueue_demo_jobs(hh: Hourhand) -> list[int]:
    weekly_report = hh.schedules.find("weekly-report", org_id="org_demo")
    ids = [hh.schedules.trigger(weekly_report.id)]  # "run now" from the schedule
    ids += [
        hh.enqueue(
            "reports:generate", {"report_id": f"r{i}"}, org_id="org_demo", created_by="u_demo"
        )
        for i in range(1, 5)
    ]
    ids += hh.enqueue_many(
        "emails:send",
        [{"to": f"user{i}@example.com", "subject": "Your weekly digest"} for i in range(12)],
    )
    ids += [hh.enqueue("imports:csv", {"filename": f"batch{i}.csv"}) for i in range(3)]
    ids.append(hh.enqueue("drafts:cleanup", {"older_than_days": 30}))
    ids.append(hh.enqueue("drafts:cleanup", {"older_than_days": 0}))
    ids += [hh.enqueue("reminders:send", {"user": f"u{i}"}, delay=2 + i) for i in range(2)]
    return ids
