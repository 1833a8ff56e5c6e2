"""The records facet (API keys, audit log, processes, users, secrets) of the SQLite store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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
from hourhand.store.rows import epoch_to_datetime, json_text

if TYPE_CHECKING:
    from hourhand.store.sqlite import SQLiteStore


def _queues(queues: Sequence[str] | None) -> str | None:
    return None if queues is None else json.dumps(list(queues))


class SQLiteRecords(Records):
    """Reads on the store's connections, writes in its write transactions."""

    def __init__(self, store: SQLiteStore, now_sql: str) -> None:
        self._store = store
        queries = load_queries("sqlite", "records.sql")
        self.q = {k: v.replace("NOW()", now_sql) for k, v in queries.items()}

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._store._read(self.q[query], params)

    def _write(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._store._write() as conn:
            return conn.execute(self.q[query], params).fetchall()

    def _key(self, rows: list[dict[str, Any]]) -> ApiKey | None:
        return decode_key(rows[0], epoch_to_datetime) if rows else None

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
            key = self._key(self._write("insert_key", params))
        except sqlite3.IntegrityError:
            raise Conflict("a key with that prefix exists") from None
        assert key is not None
        return key

    def find_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        rows = self._read("find_key", {"prefix": prefix})
        return (decode_key(rows[0], epoch_to_datetime), rows[0]["digest"]) if rows else None

    def get_key(self, key_id: int) -> ApiKey | None:
        return self._key(self._read("get_key", {"id": key_id}))

    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        rows = self._read("list_keys", {"org_id": org_id})
        return [decode_key(r, epoch_to_datetime) for r in rows]

    def revoke_key(self, key_id: int) -> ApiKey | None:
        return self._key(self._write("revoke_key", {"id": key_id}))

    def touch_key(self, key_id: int, every: float = TOUCH_EVERY) -> None:
        self._write("touch_key", {"id": key_id, "every": every})

    # -- the audit log --------------------------------------------------------------------
    def add_audit(self, entry: NewAuditEntry) -> AuditEntry:
        params = audit_params(entry, None if entry.details is None else json.dumps(entry.details))
        [row] = self._write("add_audit", params)
        return decode_audit(row, epoch_to_datetime, json_text)

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
        rows = self._read("list_audit", params)
        return [decode_audit(r, epoch_to_datetime, json_text) for r in rows]

    # -- processes ------------------------------------------------------------------------
    def beat(self, process: ProcessInfo) -> None:
        self._write("beat", process_params(process, _queues))

    def list_processes(
        self, alive_within: float, *, include_dead: bool = False
    ) -> list[ProcessInfo]:
        params = {"within": alive_within, "all": int(include_dead)}
        rows = self._read("list_processes", params)
        return [decode_process(r, epoch_to_datetime, json_text) for r in rows]

    def remove_process(self, process_id: str) -> bool:
        return bool(self._write("remove_process", {"id": process_id}))

    def prune_processes(self, older_than: float) -> int:
        return len(self._write("prune_processes", {"older_than": older_than}))

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
            rows = self._write("insert_user", params)
        except sqlite3.IntegrityError:
            raise Conflict("a user of that name exists in that organisation") from None
        return decode_user(rows[0], epoch_to_datetime)

    def find_user(self, name: str, org_id: str | None) -> tuple[User, str] | None:
        rows = self._read("find_user", {"name": name, "org_id": org_id})
        return (decode_user(rows[0], epoch_to_datetime), rows[0]["password_hash"]) if rows else None

    def get_user(self, user_id: int) -> User | None:
        rows = self._read("get_user", {"id": user_id})
        return decode_user(rows[0], epoch_to_datetime) if rows else None

    def list_users(self, org_id: str | None = None) -> list[User]:
        rows = self._read("list_users", {"org_id": org_id})
        return [decode_user(r, epoch_to_datetime) for r in rows]

    def disable_user(self, user_id: int) -> User | None:
        rows = self._write("disable_user", {"id": user_id})
        return decode_user(rows[0], epoch_to_datetime) if rows else None

    def set_user_password(self, user_id: int, password_hash: str) -> User | None:
        rows = self._write("set_user_password", {"id": user_id, "password_hash": password_hash})
        return decode_user(rows[0], epoch_to_datetime) if rows else None

    def user_signed_in(self, user_id: int, password_hash: str | None = None) -> None:
        self._write("user_signed_in", {"id": user_id, "password_hash": password_hash})

    # -- shared secrets -------------------------------------------------------------------
    def get_secret(self, name: str) -> str | None:
        rows = self._read("get_secret", {"name": name})
        return str(rows[0]["value"]) if rows else None

    def put_secret(self, name: str, value: str) -> str:
        self._write("put_secret", {"name": name, "value": value})
        stored = self.get_secret(name)
        assert stored is not None
        return stored
