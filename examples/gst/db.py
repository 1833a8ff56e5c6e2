"""The GST example's domain tables: tenants, JSON columns, ids and times.

Everything goes through :class:`examples.common.domain.Domain` (one URL with hourhand's
own tables; ``?`` placeholders on both dialects). What this module adds is the seed's
shape: UUID ids as text, JSON documents (JSONB on PostgreSQL, text on SQLite) and the
tenant every query is confined to.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from examples.common.domain import Domain, Row

SCHEMA = Path(__file__).with_name("schema.sql")
# the "service role" the seed's edge functions act as: audit_log.user_id of every job row
SERVICE_ROLE = "00000000-0000-4000-8000-000000000000"
OPEN = ("Completed", "Cancelled")  # a task or hearing in neither state is still open


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    zone: ZoneInfo  # "today", snapshot dates and the times in e-mails are local to it
    whatsapp_enabled: bool


def new_id() -> str:
    return str(uuid.uuid4())


def to_json(value: Any) -> str:
    """A JSON column's value (PostgreSQL casts the text to JSONB)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_json(value: Any) -> Any:
    """A JSON column as read: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def parse_time(text: str) -> datetime:
    """A stored ISO time (``...Z``) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def marks(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of these values."""
    return ", ".join("?" for _ in values)


def rows(conn: Any, db: Domain, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows of a query on an open connection (``db.connect()``), as dicts."""
    return [dict(row) for row in conn.execute(db.sql(sql), tuple(params))]


def insert_rows(conn: Any, db: Domain, table: str, records: Iterable[dict[str, Any]]) -> int:
    """Insert many rows of the same columns in one ``executemany``; how many."""
    items = list(records)
    if not items:
        return 0
    columns = list(items[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(columns)})"
    conn.cursor().executemany(db.sql(sql), [tuple(r[c] for c in columns) for r in items])
    return len(items)


def tenants(db: Domain, tenant_id: str | None = None) -> list[Tenant]:
    """Every tenant by name, or the one named (none if it does not exist)."""
    sql = "SELECT id, name, time_zone, whatsapp_enabled FROM tenants"
    params: tuple[str, ...] = ()
    if tenant_id is not None:
        sql += " WHERE id = ?"
        params = (tenant_id,)
    return [
        Tenant(r["id"], r["name"], ZoneInfo(r["time_zone"]), bool(r["whatsapp_enabled"]))
        for r in db.query(sql + " ORDER BY name", params)
    ]
