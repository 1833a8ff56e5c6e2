"""ExportDataJob: a user's data as a ZIP archive, stored with a link valid for 24 hours, and
an e-mail with the link (fire-and-forget: ``POST /api/users/me/export`` enqueues it)."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import timedelta
from typing import Any, Literal

from examples.common.domain import Domain, iso, now
from examples.homes import storage
from examples.homes.app import db, hh
from examples.homes.jobs.common import json_value
from examples.homes.mail import send_email
from hourhand import DoNotRetry, JobContext

# The seed's "ExportData" settings: ExpirationHours, MaxSizeBytes, IncludePhotos.
EXPIRATION_HOURS = 24
MAX_SIZE_BYTES = 1_073_741_824  # 1 GB
INCLUDE_PHOTOS = True

Format = Literal["json", "csv"]

# What goes in the archive: one file per table, the user's rows.
PROPERTIES = (
    "SELECT * FROM properties WHERE project_id IN (SELECT id FROM projects WHERE owner_id = ?)"
    " OR id IN (SELECT property_id FROM property_members WHERE user_id = ?) ORDER BY id"
)
ZAZNAMY = "SELECT * FROM zaznamy WHERE author_id = ? AND is_deleted = 0 ORDER BY id"
QUERIES: dict[str, tuple[str, int]] = {  # name: (query, how many times it takes the user id)
    "profile": (
        "SELECT id, name, email, preferences, created_at FROM users WHERE id = ?",
        1,
    ),
    "projects": ("SELECT * FROM projects WHERE owner_id = ? ORDER BY id", 1),
    "properties": (PROPERTIES, 2),
    "units": (f"SELECT * FROM units WHERE property_id IN (SELECT id FROM ({PROPERTIES}) p)", 2),
    "zaznamy": (ZAZNAMY, 1),
    "comments": (
        "SELECT * FROM comments WHERE zaznam_id IN"
        " (SELECT id FROM zaznamy WHERE author_id = ? AND is_deleted = 0) ORDER BY id",
        1,
    ),
    "documents": (
        "SELECT id, zaznam_id, file_name, content_type, size_bytes, storage_key, created_at"
        " FROM documents WHERE is_deleted = 0 AND zaznam_id IN"
        " (SELECT id FROM zaznamy WHERE author_id = ? AND is_deleted = 0) ORDER BY id",
        1,
    ),
    "contacts": ("SELECT * FROM contacts WHERE owner_id = ? ORDER BY id", 1),
    "notifications": ("SELECT * FROM notifications WHERE user_id = ? ORDER BY id", 1),
}
JSON_COLUMNS = ("preferences", "payload")


def collect(d: Domain, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """The user's data, table by table (1. of the seed's logic)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with d.connect() as conn:
        for name, (query, times) in QUERIES.items():
            rows = conn.execute(d.sql(query), (user_id,) * times).fetchall()
            tables[name] = [_plain(dict(row)) for row in rows]
    return tables


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for column in JSON_COLUMNS:
        if column in row:
            row[column] = json_value(row[column])
    return row


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                    for k, v in row.items()
                }
            )
    return out.getvalue()


def human_size(size: int) -> str:
    """``1,2 MB``: the size as the e-mail shows it (Czech decimal comma)."""
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000 or unit == "MB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}".replace(".", ",")
            return f"{text} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


@hh.job("ExportDataJob", max_attempts=3, timeout=3600)
def export_data(
    ctx: JobContext,
    user_id: int,
    format: Format = "json",
    expiration_hours: int = EXPIRATION_HOURS,
    max_size_bytes: int = MAX_SIZE_BYTES,
    include_photos: bool = INCLUDE_PHOTOS,
) -> dict[str, Any]:
    """1. collect the user's data; 2. write a ZIP archive (a file per table, ``format``
    json or csv, and the documents' files when ``include_photos``); 3. store it with a
    link valid ``expiration_hours``; 4. e-mail the link (SendEmailJob, ``export_ready``)."""
    d = db()
    tables = collect(d, user_id)
    if not tables["profile"]:
        raise DoNotRetry(f"no user {user_id}")
    user = tables["profile"][0]
    ctx.progress(30, "data collected")
    key = f"exports/{user_id}/{uuid.uuid4().hex}.zip"
    with storage.writing(key) as path:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, rows in tables.items():
                if format == "json":
                    text = json.dumps(rows, ensure_ascii=False, indent=2)
                else:
                    text = _csv(rows)
                archive.writestr(f"{name}.{format}", text)
            if include_photos:
                for doc in tables["documents"]:
                    if storage.exists(doc["storage_key"]):
                        arcname = f"documents/{doc['id']}-{doc['file_name']}"
                        archive.write(storage.path_of(doc["storage_key"]), arcname)
        size = path.stat().st_size
        if size > max_size_bytes:
            raise DoNotRetry(f"the export is {size} bytes, over the limit of {max_size_bytes}")
    ctx.progress(80, "archive stored")
    moment = now()
    expires_at = moment + timedelta(hours=expiration_hours)
    export_id = d.insert(
        "exports",
        {
            "user_id": user_id,
            "format": format,
            "storage_key": key,
            "size_bytes": size,
            "expires_at": iso(expires_at),
            "created_at": iso(moment),
        },
    )
    link = storage.presigned_url(d, export_id, expires_at)
    variables = {
        "name": user["name"],
        "size": human_size(size),
        "link": link,
        "hours": expiration_hours,
    }
    email_job = send_email(hh, "export_ready", user["email"], variables)
    return {"export_id": export_id, "size": size, "files": len(tables), "email_job": email_job}
