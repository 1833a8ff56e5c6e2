"""What several jobs share: notifications, JSON columns, dates."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from examples.common.domain import Domain, iso

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how payloads show times (the seed's "2024-12-20T10:00:00Z")


def json_value(value: Any) -> Any:
    """A JSON column's value: PostgreSQL's JSONB arrives decoded, SQLite's text does not."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def parse(text: str) -> datetime:
    """A time the domain tables store (``iso(...)``) as a datetime."""
    return datetime.fromisoformat(text)


def shown(moment: datetime) -> str:
    return moment.strftime(ISO_FORMAT)


def notify(
    conn: Any,
    d: Domain,
    user_id: int,
    kind: str,
    payload: dict[str, Any],
    at: datetime,
    subject_key: str | None = None,
) -> None:
    """Create an in-app notification (the seed's ``_notificationService.CreateAsync``), in
    the caller's transaction."""
    conn.execute(
        d.sql(
            "INSERT INTO notifications (user_id, type, payload, subject_key, is_read, created_at)"
            " VALUES (?, ?, ?, ?, 0, ?)"
        ),
        (user_id, kind, json.dumps(payload, ensure_ascii=False), subject_key, iso(at)),
    )
