"""``reports:generate``: a user job. Sums up an organisation's orders over a day, a week or
a month (ending when the job was made, or at its schedule's fire time) into a CSV or PDF
file in storage, reporting its progress, and returns where the file is."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fpdf import FPDF

from examples.common.domain import Domain, Row, iso
from examples.saas import files
from examples.saas.jobs import Services
from hourhand import DoNotRetry, Hourhand, JobContext, JobHandle, Retry

JOB_TYPE = "reports:generate"
Period = Literal["day", "week", "month"]
Format = Literal["csv", "pdf"]
COLUMNS = ("date", "orders", "paid_cents", "refunded_cents", "pending_cents")


def window(period: Period, until: datetime) -> tuple[datetime, datetime]:
    """The report's [start, end): the day, week or calendar month before ``until``."""
    if period == "day":
        return until - timedelta(days=1), until
    if period == "week":
        return until - timedelta(days=7), until
    year, month = (until.year, until.month - 1) if until.month > 1 else (until.year - 1, 12)
    day = min(until.day, _days_in(year, month))
    return until.replace(year=year, month=month, day=day), until


def _days_in(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def daily_rows(domain: Domain, org_id: str, start: datetime, end: datetime) -> list[Row]:
    """One row per day with orders: their count and amounts per status."""
    return domain.query(
        """
        SELECT substr(created_at, 1, 10) AS date,
               COUNT(*) AS orders,
               SUM(CASE WHEN status = 'paid' THEN amount_cents ELSE 0 END) AS paid_cents,
               SUM(CASE WHEN status = 'refunded' THEN amount_cents ELSE 0 END) AS refunded_cents,
               SUM(CASE WHEN status = 'pending' THEN amount_cents ELSE 0 END) AS pending_cents
        FROM orders
        WHERE org_id = ? AND created_at >= ? AND created_at < ?
        GROUP BY substr(created_at, 1, 10)
        ORDER BY 1
        """,
        (org_id, iso(start), iso(end)),
    )


def render_csv(rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[c] for c in COLUMNS])
    return out.getvalue().encode()


def render_pdf(title: str, rows: list[Row]) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    with pdf.table(col_widths=(30, 20, 30, 30, 30)) as table:
        table.row(list(COLUMNS))
        for row in rows:
            table.row([str(row[c]) for c in COLUMNS])
    return bytes(pdf.output())


def register_report_handler(hh: Hourhand, services: Services) -> JobHandle[..., dict[str, Any]]:
    @hh.job(
        JOB_TYPE,
        queue="reports",
        concurrency=5,  # the seed's `concurrency: 5`
        max_attempts=3,
        retry=Retry.exponential(base=10, cap=600),
        timeout=600,
    )
    def generate_report(
        ctx: JobContext, period: Period = "week", format: Format = "csv"
    ) -> dict[str, Any]:
        org_id = ctx.org_id
        if org_id is None:
            raise DoNotRetry(f"{JOB_TYPE} is a user job: enqueue it for an organisation")
        # the end of the window: a scheduled run's fire time, else when it was asked for
        # (the same on every attempt, so a retry makes the same report)
        until = (ctx.job.fire_time or ctx.job.created_at).astimezone(UTC)
        start, end = window(period, until)
        ctx.progress(10, "reading orders")
        rows = daily_rows(services.domain, org_id, start, end)
        ctx.progress(50, f"rendering {len(rows)} days")
        title = f"Orders, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        data = render_csv(rows) if format == "csv" else render_pdf(title, rows)
        ctx.progress(80, "storing the report")
        name = f"orders-{period}-{end:%Y-%m-%d}.{format}"
        file_id = files.save(
            services.domain,
            services.storage,
            files.NewFile(
                org_id=org_id,
                kind="report",
                key=f"{org_id}/reports/job-{ctx.id}.{format}",
                filename=name,
                content_type="text/csv" if format == "csv" else "application/pdf",
                created_by=ctx.job.created_by,
                job_id=ctx.id,
            ),
            data,
            ttl=files.REPORT_TTL,
        )
        ctx.progress(100, "report ready")
        return {
            "file_id": file_id,
            "filename": name,
            "format": format,
            "period": period,
            "from": iso(start),
            "until": iso(end),
            "days": len(rows),
            "orders": sum(int(r["orders"]) for r in rows),
            "paid_cents": sum(int(r["paid_cents"]) for r in rows),
            "bytes": len(data),
        }

    return generate_report
