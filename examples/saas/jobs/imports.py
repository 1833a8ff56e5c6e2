"""``contacts:import``: a user job. Reads a CSV file the organisation uploaded (columns
``email``, ``name``, ``company``), checks each line and upserts the good ones into
``contacts`` a batch at a time, reporting progress after each batch and stopping between
batches when cancelled. Upserting by (organisation, e-mail) makes a retry safe: a line
imported twice is the same contact. The result counts what happened, and lists the lines
it skipped with the reason (never their content: it is people's data)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.saas import files
from examples.saas.jobs import Services
from hourhand import DoNotRetry, Hourhand, JobContext, JobHandle, Retry

JOB_TYPE = "contacts:import"
BATCH_SIZE = 100  # lines per transaction (and per progress report)
MAX_LISTED_ERRORS = 20  # skipped lines listed in the result; the rest are only counted
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


@dataclass
class Parsed:
    rows: list[tuple[str, str, str | None]] = field(default_factory=list)  # email, name, co.
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"line", "error"}
    lines: int = 0

    def skip(self, line: int, error: str) -> None:
        self.errors.append({"line": line, "error": error})


def parse(data: bytes) -> Parsed:
    """The file's good lines (the first of each e-mail address) and why the others are
    skipped. Line numbers count the header as line 1."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DoNotRetry("the file is not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = {(name or "").strip().lower() for name in reader.fieldnames or ()}
    if not {"email", "name"} <= header:
        raise DoNotRetry("the file needs a header line with 'email' and 'name' columns")
    parsed, seen = Parsed(), set()
    for number, raw in enumerate(reader, start=2):
        parsed.lines += 1
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        email, name = row.get("email", "").lower(), row.get("name", "")
        if not EMAIL.match(email):
            parsed.skip(number, "not an e-mail address")
        elif not name:
            parsed.skip(number, "no name")
        elif email in seen:
            parsed.skip(number, "the same e-mail address as an earlier line")
        else:
            seen.add(email)
            parsed.rows.append((email, name, row.get("company") or None))
    return parsed


def upsert(
    domain: Domain, org_id: str, rows: list[tuple[str, str, str | None]], source: str
) -> int:
    """Insert or update the contacts in one transaction; how many were new."""
    stamp = iso(now())
    marks = ", ".join("?" for _ in rows)
    with domain.connect() as conn:
        existing = conn.execute(
            domain.sql(
                f"SELECT COUNT(*) AS n FROM contacts WHERE org_id = ? AND email IN ({marks})"
            ),
            (org_id, *(email for email, _, _ in rows)),
        ).fetchone()["n"]
        for email, name, company in rows:
            conn.execute(
                domain.sql(
                    "INSERT INTO contacts (org_id, email, name, company, source, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (org_id, email) DO UPDATE SET name = excluded.name, "
                    "company = excluded.company, updated_at = excluded.updated_at"
                ),
                (org_id, email, name, company, source, stamp, stamp),
            )
    return len(rows) - int(existing)


def register_import_handler(hh: Hourhand, services: Services) -> JobHandle[..., dict[str, Any]]:
    @hh.job(
        JOB_TYPE,
        queue="imports",
        concurrency=2,
        max_attempts=3,
        retry=Retry.fixed([30, 120]),
        timeout=1800,
    )
    def import_contacts(
        ctx: JobContext, file_id: int, batch_size: int = BATCH_SIZE
    ) -> dict[str, Any]:
        org_id = ctx.org_id
        if org_id is None:
            raise DoNotRetry(f"{JOB_TYPE} is a user job: enqueue it for an organisation")
        domain = services.domain
        upload = files.get(domain, file_id, org_id)
        if upload is None or upload["kind"] != "upload":
            raise DoNotRetry(f"no upload {file_id} in this organisation")
        ctx.progress(0, "reading the file")
        try:
            parsed = parse(services.storage.get(upload["storage_key"]))
        except FileNotFoundError:
            raise DoNotRetry(f"upload {file_id} has expired: upload the file again") from None
        created, done, total = 0, 0, len(parsed.rows)
        for start in range(0, total, max(1, batch_size)):
            if ctx.cancelled:
                raise RuntimeError(f"stopped on request after {done} of {total} contacts")
            batch = parsed.rows[start : start + batch_size]
            created += upsert(domain, org_id, batch, f"import:{ctx.id}")
            done += len(batch)
            ctx.progress(min(99.0, 100.0 * done / total), f"imported {done} of {total} contacts")
        skipped = len(parsed.errors)
        ctx.progress(100, f"imported {total} contacts, skipped {skipped} lines")
        return {
            "file_id": file_id,
            "lines": parsed.lines,
            "imported": total,
            "created": created,
            "updated": total - created,
            "skipped": skipped,
            "errors": parsed.errors[:MAX_LISTED_ERRORS],
        }

    return import_contacts
