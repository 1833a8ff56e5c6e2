"""append_audit_event(): the seed's audit trail, a row of ``audit_logs`` per change, export
or error, written in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from examples.common.domain import Domain, iso, now


def append_audit_event(
    domain: Domain,
    conn: Any,
    *,
    tenant_id: int | None,
    table_name: str,
    record_id: int | None,
    action: str,
    old_values: Mapping[str, Any] | None = None,
    new_values: Mapping[str, Any] | None = None,
    changed_fields: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """One audit row on ``conn`` (an open transaction of ``domain``)."""
    conn.execute(
        domain.sql(
            "INSERT INTO audit_logs (tenant_id, table_name, record_id, action, old_values,"
            " new_values, changed_fields, metadata, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (
            tenant_id,
            table_name,
            record_id,
            action,
            _json(old_values),
            _json(new_values),
            _json(None if changed_fields is None else list(changed_fields)),
            _json(metadata),
            iso(now()),
        ),
    )


def log_error(
    domain: Domain,
    *,
    worker: str,
    tenant_id: int | None,
    table_name: str,
    record_id: int | None,
    error: BaseException,
) -> None:
    """Record a job's failure on one record in a transaction of its own (the one that
    failed was rolled back): the seed's "log errors to audit_logs". The error's type and
    message, never the job's arguments."""
    with domain.connect() as conn:
        append_audit_event(
            domain,
            conn,
            tenant_id=tenant_id,
            table_name=table_name,
            record_id=record_id,
            action="error",
            metadata={"worker": worker, "error": f"{type(error).__name__}: {error}"},
        )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
