"""Invoices: saving one enqueues its PDF (the seed's "called when an invoice is created or
updated"), and pdf_invoice_worker makes the PDF, stores it, and records it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from examples.common.domain import Domain, Row, iso, now
from examples.construction.audit import append_audit_event
from examples.construction.pdf import InvoiceHeader, InvoicePdf
from examples.construction.storage import upload
from hourhand import DoNotRetry, Hourhand, JobContext

PDF_JOB = "pdf_invoice_worker"
CHUNK = 100  # lines read and drawn at a time ("large invoice (>100 lines): chunk processing")
LINE_COLUMNS = ("description", "quantity", "unit", "unit_price")


def create_invoice(
    hh: Hourhand,
    domain: Domain,
    *,
    tenant_id: int,
    number: str,
    lines: Sequence[Mapping[str, Any]],
    project_id: int | None = None,
    client_id: int | None = None,
    issued_on: date | None = None,
    due_days: int = 30,
    currency: str = "SEK",
) -> tuple[int, int]:
    """Save an invoice with its lines and enqueue its PDF, in one transaction (the job
    commits with the invoice: never an invoice without its PDF job, nor a job without its
    invoice); (invoice id, job id)."""
    issued = issued_on or now().date()
    due = date.fromordinal(issued.toordinal() + due_days)
    with domain.connect() as conn:
        row = conn.execute(
            domain.sql(
                "INSERT INTO invoices (tenant_id, project_id, client_id, number, issued_on,"
                " due_on, currency, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (
                tenant_id,
                project_id,
                client_id,
                number,
                issued.isoformat(),
                due.isoformat(),
                currency,
                iso(now()),
            ),
        ).fetchone()
        invoice_id = int(row["id"])
        _insert_lines(domain, conn, invoice_id, lines)
        job_id = enqueue_pdf(hh, invoice_id, conn)
    return invoice_id, job_id


def update_invoice(
    hh: Hourhand,
    domain: Domain,
    invoice_id: int,
    *,
    lines: Sequence[Mapping[str, Any]] | None = None,
    due_on: date | None = None,
) -> int:
    """Change an invoice's lines and/or due date and enqueue its PDF again, in one
    transaction; the job id."""
    with domain.connect() as conn:
        if due_on is not None:
            conn.execute(
                domain.sql("UPDATE invoices SET due_on = ? WHERE id = ?"),
                (due_on.isoformat(), invoice_id),
            )
        if lines is not None:
            conn.execute(
                domain.sql("DELETE FROM invoice_lines WHERE invoice_id = ?"), (invoice_id,)
            )
            _insert_lines(domain, conn, invoice_id, lines)
        conn.execute(
            domain.sql("UPDATE invoices SET updated_at = ? WHERE id = ?"), (iso(now()), invoice_id)
        )
        return enqueue_pdf(hh, invoice_id, conn)


def enqueue_pdf(hh: Hourhand, invoice_id: int, conn: Any = None) -> int:
    """The PDF job of an invoice: in the caller's transaction when ``conn`` is given."""
    return int(hh.enqueue(PDF_JOB, {"invoice_id": invoice_id}, connection=conn))


def generate_pdf(ctx: JobContext, domain: Domain, invoice_id: int) -> dict[str, Any]:
    """The job: the invoice and its lines (CHUNK at a time, in sort order) drawn into a
    PDF, uploaded to ``invoices/<tenant>/<invoice>.pdf``, its URL saved on the invoice and
    an 'export' audit event written. An invoice that does not exist fails at once (another
    attempt would not find it either); anything else is retried."""
    invoice = domain.one(
        "SELECT i.*, p.name AS project_name, c.name AS client_name, t.name AS tenant_name"
        " FROM invoices i JOIN tenants t ON i.tenant_id = t.id"
        " LEFT JOIN projects p ON i.project_id = p.id"
        " LEFT JOIN clients c ON i.client_id = c.id"
        " WHERE i.id = ?",
        (invoice_id,),
    )
    if invoice is None:
        raise DoNotRetry(f"invoice {invoice_id} does not exist")
    total = domain.one(
        "SELECT COUNT(*) AS n FROM invoice_lines WHERE invoice_id = ?", (invoice_id,)
    )
    count = int(total["n"]) if total else 0
    document = InvoicePdf(header_of(invoice))
    for chunk in line_chunks(domain, invoice_id):
        document.add_lines(chunk)
        ctx.progress(90 * document.lines // max(count, 1), f"{document.lines} of {count} lines")
    data = document.finish()
    url = upload(f"invoices/{invoice['tenant_id']}/{invoice_id}.pdf", data)
    with domain.connect() as conn:
        conn.execute(
            domain.sql("UPDATE invoices SET pdf_url = ?, pdf_generated_at = ? WHERE id = ?"),
            (url, iso(now()), invoice_id),
        )
        append_audit_event(
            domain,
            conn,
            tenant_id=invoice["tenant_id"],
            table_name="invoices",
            record_id=invoice_id,
            action="export",
            new_values={"pdf_url": url},
            changed_fields=["pdf_url"],
            metadata={"worker": PDF_JOB},
        )
    ctx.progress(100, "stored")
    return {"pdf_url": url, "lines": document.lines, "pages": document.pdf.page, "bytes": len(data)}


def header_of(invoice: Row) -> InvoiceHeader:
    """The page header, with placeholders for what is missing."""
    return InvoiceHeader(
        number=invoice["number"] or f"#{invoice['id']}",
        tenant=invoice["tenant_name"] or "(företag saknas)",
        client=invoice["client_name"] or "(kund saknas)",
        project=invoice["project_name"] or "(projekt saknas)",
        issued_on=invoice["issued_on"] or "-",
        due_on=invoice["due_on"] or "-",
        currency=invoice["currency"] or "SEK",
    )


def line_chunks(domain: Domain, invoice_id: int, size: int = CHUNK) -> Iterator[list[Row]]:
    """The invoice's lines by (sort_order, id), ``size`` at a time (keyset pagination: each
    chunk is one short indexed read, however long the invoice)."""
    after = (-1, 0)
    while True:
        rows = domain.query(
            "SELECT id, sort_order, description, quantity, unit, unit_price"
            " FROM invoice_lines WHERE invoice_id = ?"
            " AND (sort_order > ? OR (sort_order = ? AND id > ?))"
            " ORDER BY sort_order, id LIMIT ?",
            (invoice_id, after[0], after[0], after[1], size),
        )
        if not rows:
            return
        yield rows
        after = (rows[-1]["sort_order"], rows[-1]["id"])
        if len(rows) < size:
            return


def _insert_lines(
    domain: Domain, conn: Any, invoice_id: int, lines: Sequence[Mapping[str, Any]]
) -> None:
    conn.cursor().executemany(
        domain.sql(
            "INSERT INTO invoice_lines (invoice_id, sort_order, description, quantity, unit,"
            " unit_price) VALUES (?, ?, ?, ?, ?, ?)"
        ),
        [(invoice_id, i, *(line[c] for c in LINE_COLUMNS)) for i, line in enumerate(lines, 1)],
    )
