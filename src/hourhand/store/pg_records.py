"""The records facet (API keys, audit log, processes, users, secrets) of the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from hourhand.errors import Conflict
from hourhand.store.base import load_queries
from hourhand.store.records import (
    TOUCH_EVERY,
    ApiKey,
    AuditEntry,
    NewAuditEntry,
    ProcessInfo,
    Records,
    User,
    audit_params,
    decode_audit,
    decode_key,
    decode_process,
    decode_user,
    process_params,
)
from hourhand.store.rows import json_native

if TYPE_CHECKING:
    from hourhand.store.postgres import PostgresStore


def _utc(value: Any) -> Any:
    return value  # timestamptz values load as UTC datetimes (see postgres.py)


def _queues(queues: Sequence[str] | None) -> Jsonb | None:
    return None if queues is None else Jsonb(list(queues))


class PgRecords(Records):
    """On the store's pooled connections; one statement per call."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.q = load_queries("postgres", "records.sql")

    def _all(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._store._connection() as conn:
            cur = conn.execute(self.q[query], params)
            return cur.fetchall() if cur.description is not None else []

    def _one(self, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        rows = self._all(query, params)
        return rows[0] if rows else None

    def _key(self, row: dict[str, Any] | None) -> ApiKey | None:
        return None if row is None else decode_key(row, _utc)

    # -- API keys -------------------------------------------------------------------------
    def insert_key(
        self,
        name: str,
        role: str,
        org_id: str | None,
        prefix: str,
        digest: str,
        created_by: str | None,
    ) -> ApiKey:
        params = {
            "name": name,
            "role": role,
            "org_id": org_id,
            "prefix": prefix,
            "digest": digest,
            "created_by": created_by,
        }
        try:
            row = self._one("insert_key", params)
        except psycopg.errors.UniqueViolation:
            raise Conflict("a key with that prefix exists") from None
        assert row is not None
        return decode_key(row, _utc)

    def find_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        row = self._one("find_key", {"prefix": prefix})
        return None if row is None else (decode_key(row, _utc), row["digest"])

    def get_key(self, key_id: int) -> ApiKey | None:
        return self._key(self._one("get_key", {"id": key_id}))

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        return [decode_key(r, _utc) for r in self._all("list_keys", {"org_id": org_id})]

    def revoke_key(self, key_id: int) -> ApiKey | None:
        return self._key(self._one("revoke_key", {"id": key_id}))

    def touch_key(self, key_id: int, every: float = TOUCH_EVERY) -> None:
        self._all("touch_key", {"id": key_id, "every": every})

    # -- the audit log --------------------------------------------------------------------
    def add_audit(self, entry: NewAuditEntry) -> AuditEntry:
        params = audit_params(entry, None if entry.details is None else Jsonb(entry.details))
        row = self._one("add_audit", params)
        assert row is not None
        return decode_audit(row, _utc, json_native)

    def list_audit(
        self,
        *,
        org_id: str | None = None,
        target_kind: str | None = None,
        target_id: str | None = None,
        action: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        params = {
            "org_id": org_id,
            "target_kind": target_kind,
            "target_id": target_id,
            "action": action,
            "limit": limit,
            "before_id": before_id,
        }
        return [decode_audit(r, _utc, json_native) for r in self._all("list_audit", params)]

    # -- processes ------------------------------------------------------------------------
    def beat(self, process: ProcessInfo) -> None:
        self._all("beat", process_params(process, _queues))

    def list_processes(
        self, alive_within: float, *, include_dead: bool = False
    ) -> list[ProcessInfo]:
        rows = self._all("list_processes", {"within": alive_within, "all": include_dead})
        return [decode_process(r, _utc, json_native) for r in rows]

    def remove_process(self, process_id: str) -> bool:
        return self._one("remove_process", {"id": process_id}) is not None

    def prune_processes(self, older_than: float) -> int:
        return len(self._all("prune_processes", {"older_than": older_than}))

    # -- dashboard users ------------------------------------------------------------------
    def insert_user(
        self,
        name: str,
        org_id: str | None,
        role: str,
        password_hash: str,
        created_by: str | None,
    ) -> User:
        params = {
            "name": name,
            "org_id": org_id,
            "role": role,
            "password_hash": password_hash,
            "created_by": created_by,
        }
        try:
            rows = self._all("insert_user", params)
        except psycopg.errors.UniqueViolation:
            raise Conflict("a user of that name exists in that organisation") from None
        return decode_user(rows[0], _utc)

    def find_user(self, name: str, org_id: str | None) -> tuple[User, str] | None:
        rows = self._all("find_user", {"name": name, "org_id": org_id})
        return (decode_user(rows[0], _utc), rows[0]["password_hash"]) if rows else None

    def get_user(self, user_id: int) -> User | None:
        rows = self._all("get_user", {"id": user_id})
        return decode_user(rows[0], _utc) if rows else None

    def list_users(self, org_id: str | None = None) -> list[User]:
        rows = self._all("list_users", {"org_id": org_id})
        return [decode_user(r, _utc) for r in rows]

    def disable_user(self, user_id: int) -> User | None:
        rows = self._all("disable_user", {"id": user_id})
        return decode_user(rows[0], _utc) if rows else None

    def set_user_password(self, user_id: int, password_hash: str) -> User | None:
        rows = self._all("set_user_password", {"id": user_id, "password_hash": password_hash})
        return decode_user(rows[0], _utc) if rows else None

    def user_signed_in(self, user_id: int, password_hash: str | None = None) -> None:
        self._all("user_signed_in", {"id": user_id, "password_hash": password_hash})

    # -- shared secrets -------------------------------------------------------------------
    def get_secret(self, name: str) -> str | None:
        rows = self._all("get_secret", {"name": name})
        return str(rows[0]["value"]) if rows else None

    def put_secret(self, name: str, value: str) -> str:
        self._all("put_secret", {"name": name, "value": value})
        stored = self.get_secret(name)
        assert stored is not None
        return stored
