"""The seed's job catalogue: the five edge functions, with their expected and acceptable
times (its "Performance Metrics") and the retry policy each gets here.

The seed's pg_cron + edge functions never retried (a failed HTTP call waited for the next
fire). The every-15-minutes check keeps that (its next run is its retry); the daily jobs
retry with backoff, since their next fire is a day away.
"""

from __future__ import annotations

from examples.gst.execution import JobDef
from examples.gst.jobs.analytics import analytics_snapshot
from examples.gst.jobs.deadlines import check_upcoming_deadlines
from examples.gst.jobs.health import automation_health_check
from examples.gst.jobs.hearings import send_hearing_reminders
from examples.gst.jobs.sla import check_sla_and_overdue
from hourhand import Retry

CATALOGUE = (
    JobDef(
        "check-sla-and-overdue",
        check_sla_and_overdue,
        expected=5,
        max_acceptable=15,
        retry=Retry.none(),
        max_attempts=1,
        description="Flag overdue tasks and SLA breaches; emit task_overdue, sla_violation",
    ),
    JobDef(
        "send-hearing-reminders",
        send_hearing_reminders,
        expected=15,
        max_acceptable=30,
        retry=Retry.exponential(base=60, cap=900),
        max_attempts=3,
        description="E-mail (and WhatsApp) reminders of today's and tomorrow's hearings",
    ),
    JobDef(
        "analytics-snapshot",
        analytics_snapshot,
        expected=30,
        max_acceptable=60,
        retry=Retry.exponential(base=120, cap=1800),
        max_attempts=3,
        description="The day's metrics per tenant, with anomalies over 30% of the 7-day mean",
    ),
    JobDef(
        "check-upcoming-deadlines",
        check_upcoming_deadlines,
        expected=8,
        max_acceptable=20,
        retry=Retry.exponential(base=60, cap=900),
        max_attempts=3,
        description="One digest per user of tasks and hearings due in the next 24 hours",
    ),
    JobDef(
        "automation-health-check",
        automation_health_check,
        expected=5,
        max_acceptable=10,
        retry=Retry.exponential(base=300, cap=1800),
        max_attempts=2,
        description="Automation rules' success rates; e-mail admins about degraded rules",
    ),
)
JOBS = {job.name: job for job in CATALOGUE}
