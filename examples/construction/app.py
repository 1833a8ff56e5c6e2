"""Seed 000's Phase 1 background jobs on hourhand: the job catalogue.

    cd examples/construction
    PYTHONPATH=../.. ../../.venv/bin/python -m examples.construction.seed
    PYTHONPATH=../.. ../../.venv/bin/hourhand --app examples.construction.app:hh serve

The schedules (the seed's pg_cron.schedule calls), the alert rules and the channels are in
hourhand.toml beside this file, which ``hourhand serve`` reads from the folder it runs in.
The jobs' work is in budget.py, invoices.py and share_links.py.
"""

from __future__ import annotations

from typing import Any

from examples.common.domain import Domain
from examples.construction import budget, invoices, share_links
from hourhand import Hourhand, JobContext, Retry

hh = Hourhand()  # --database or HOURHAND_DATABASE, else sqlite:///hourhand.db where it runs


def domain() -> Domain:
    """The domain tables, in hourhand's database (read when a job runs: the CLI's
    --database is set after this module is imported)."""
    return Domain(hh.database_url)


# Every 15 minutes ([schedules.budget_alert_worker]). "Retry: max 3 attempts with
# exponential backoff": 1 then 2 minutes, well inside the 15 before the next run.
@hh.job(budget.WORKER, max_attempts=3, retry=Retry.exponential(base=60, cap=600, jitter=0))
def budget_alert_worker(ctx: JobContext) -> dict[str, int]:
    """Alerts for the active projects whose usage passed a budget threshold."""
    return budget.check_budgets(ctx, domain(), hh)


# On demand: invoices.create_invoice / update_invoice enqueue it. "Max 3 retries with
# exponential backoff (1 min, 5 min, 15 min); dead letter queue if all fail": four
# attempts, then the job stays in the dead-letter set (state failed) until retried.
@hh.job(
    invoices.PDF_JOB,
    max_attempts=4,
    retry=Retry.fixed([1, 5, 15], unit="minutes"),
    timeout=300,
)
def pdf_invoice_worker(ctx: JobContext, invoice_id: int) -> dict[str, Any]:
    """The invoice's PDF, into storage, its URL on the invoice."""
    return invoices.generate_pdf(ctx, domain(), invoice_id)


# Daily at 02:00 ([schedules.share_link_cleanup] gives the batch size and the age).
@hh.job(share_links.WORKER, max_attempts=3, retry=Retry.exponential(base=300, jitter=0))
def share_link_cleanup(
    ctx: JobContext, batch_size: int = 100, events_older_than_days: int = 90
) -> dict[str, Any]:
    """Expired public links made inactive; their old events deleted."""
    return share_links.cleanup(
        ctx, domain(), batch_size=batch_size, events_older_than_days=events_older_than_days
    )
