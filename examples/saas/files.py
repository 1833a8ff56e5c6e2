"""The ``files`` table and the storage provider together: what the seed's ``filesService``
did for its jobs. A file is written to storage first and recorded second, and deleted from
storage first and unrecorded second, so a crash in between leaves at worst a row whose
object is gone (which the next cleanup deletes), never an object nobody knows of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from examples.common.domain import Domain, Row, iso, now
from examples.saas.storage import Storage

FileKind = Literal["upload", "temp", "report"]
UPLOAD_TTL = timedelta(hours=24)  # an upload is imported within a day, or uploaded again
REPORT_TTL = timedelta(days=7)  # a generated report can be downloaded for a week
TEMP_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class NewFile:
    org_id: str | None  # None: a system file
    kind: FileKind
    key: str  # the storage key
    filename: str  # the name users see (and download as)
    content_type: str
    created_by: str | None = None
    job_id: int | None = None  # the job that made it


def save(
    domain: Domain,
    storage: Storage,
    file: NewFile,
    data: bytes,
    *,
    ttl: timedelta | None,
    at: datetime | None = None,
) -> int:
    """Store ``data`` and record it (again, for a key already recorded: a retried job
    overwrites its own file); the file's id. ``ttl`` None: kept until deleted."""
    size = storage.put(file.key, data)
    created = at or now()
    expires = None if ttl is None else iso(created + ttl)
    values = (
        file.org_id,
        file.kind,
        file.filename,
        file.content_type,
        size,
        file.created_by,
        file.job_id,
        iso(created),
        expires,
    )
    with domain.connect() as conn:
        found = conn.execute(
            domain.sql("SELECT id FROM files WHERE storage_key = ?"), (file.key,)
        ).fetchone()
        if found is not None:
            conn.execute(
                domain.sql(
                    "UPDATE files SET org_id = ?, kind = ?, filename = ?, content_type = ?, "
                    "size = ?, created_by = ?, job_id = ?, created_at = ?, expires_at = ? "
                    "WHERE id = ?"
                ),
                (*values, found["id"]),
            )
            return int(found["id"])
        row = conn.execute(
            domain.sql(
                "INSERT INTO files (org_id, kind, filename, content_type, size, created_by, "
                "job_id, created_at, expires_at, storage_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (*values, file.key),
        ).fetchone()
        return int(row["id"])


def get(domain: Domain, file_id: int, org_id: str | None) -> Row | None:
    """The file's row, if it belongs to the organisation (None: to none)."""
    if org_id is None:
        return domain.one("SELECT * FROM files WHERE id = ? AND org_id IS NULL", (file_id,))
    return domain.one("SELECT * FROM files WHERE id = ? AND org_id = ?", (file_id, org_id))
