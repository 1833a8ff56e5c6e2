"""The records facet of a store: API keys, the audit log, the registry of live processes,
dashboard users and shared secrets.

These are the tables beside the jobs that the operations layer (:mod:`hourhand.ops`) keeps:
``hourhand_api_keys``, ``hourhand_audit`` and ``hourhand_processes`` (migration 0008),
``hourhand_users`` and ``hourhand_secrets`` (migration 0011). Like
the store, the facet knows rows, not policies: who may create a key, how a key is made and
checked, what an organisation may see, all of that is decided in ``ops/``. Each dialect
implements :class:`Records` once (``pg_records.py``, ``sqlite_records.py``), on its store's
connections, with the SQL in ``sql/<dialect>/records.sql``; ``store.records`` is the facet.

Times are the database's clock: a key's use, an audit entry's time, a process's last beat.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TOUCH_EVERY = 60.0  # seconds: a key's last use is written at most this often


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored, without its secret and without its digest (which only
    :meth:`Records.find_key` returns, beside the key, for checking a presented key)."""

    id: int
    name: str
    org_id: str | None  # None: a key of the whole cluster
    role: str  # admin | operator | viewer
    prefix: str  # the public part of the key (hh_<prefix>_<secret>)
    created_at: datetime
    created_by: str | None  # the label of the actor that made it
    last_used_at: datetime | None  # written at most every TOUCH_EVERY seconds
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "org_id": self.org_id,
            "role": self.role,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
            "last_used_at": _iso(self.last_used_at),
            "revoked_at": _iso(self.revoked_at),
        }


@dataclass(frozen=True)
class AuditEntry:
    """One action someone took, as the audit log keeps it."""

    id: int
    at: datetime  # the database's clock
    actor_kind: str  # key | user | cli | app
    actor: str  # the key's or user's name, user@host for the CLI
    actor_id: str | None
    org_id: str | None  # the organisation the action concerned (None: the cluster)
    address: str | None  # where the request came from
    action: str  # e.g. job.retry, schedule.update, key.create, queue.pause
    target_kind: str | None
    target_id: str | None
    details: dict[str, Any] | None  # e.g. a schedule edit's before and after

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "actor_kind": self.actor_kind,
            "actor": self.actor,
            "actor_id": self.actor_id,
            "org_id": self.org_id,
            "address": self.address,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "details": self.details,
        }


@dataclass(frozen=True)
class ProcessInfo:
    """A worker or scheduler process, as its last beat described it. To beat, a process
    fills in what it knows; the times and ``alive`` come from the database."""

    id: str  # a worker's id (the one in its attempts), or a scheduler's
    kind: str  # worker | scheduler | web
    host: str
    pid: int
    queues: tuple[str, ...] | None = None  # a worker's queues; None: every queue
    concurrency: int | None = None  # a worker's job slots
    # (these three are None where a caller may not see them: see ops/workers.py)
    running: int | None = 0  # jobs running now
    completed: int | None = 0  # jobs completed since the process started
    failed: int | None = 0  # attempts that did not complete, since the process started
    version: str | None = None  # hourhand's version
    started_at: datetime | None = None  # its first beat (database clock)
    last_seen_at: datetime | None = None  # its latest beat (database clock)
    alive: bool = True  # seen within the window it was listed with

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "host": self.host,
            "pid": self.pid,
            "queues": None if self.queues is None else list(self.queues),
            "concurrency": self.concurrency,
            "running": self.running,
            "completed": self.completed,
            "failed": self.failed,
            "version": self.version,
            "started_at": _iso(self.started_at),
            "last_seen_at": _iso(self.last_seen_at),
            "alive": self.alive,
        }


@dataclass(frozen=True)
class User:
    """A dashboard user as stored, without its password hash (which only
    :meth:`Records.find_user` returns, beside the user, for checking a password)."""

    id: int
    name: str
    org_id: str | None  # None: a user of the whole cluster
    role: str  # admin | operator | viewer
    created_at: datetime
    created_by: str | None  # the label of the actor that made it
    last_login_at: datetime | None
    disabled_at: datetime | None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "org_id": self.org_id,
            "role": self.role,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
            "last_login_at": _iso(self.last_login_at),
            "disabled_at": _iso(self.disabled_at),
        }


@dataclass(frozen=True)
class NewAuditEntry:
    """An audit entry to add (the database gives it its id and time)."""

    actor_kind: str
    actor: str
    action: str
    actor_id: str | None = None
    org_id: str | None = None
    address: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    details: dict[str, Any] | None = None


class Records(ABC):
    """Primitive operations on the keys, audit and processes tables. Blocking and
    thread-safe, with the store's errors (DatabaseUnavailable, DatabaseRejected)."""

    # -- API keys -------------------------------------------------------------------------
    @abstractmethod
    def insert_key(
        self,
        name: str,
        role: str,
        org_id: str | None,
        prefix: str,
        digest: str,
        created_by: str | None,
    ) -> ApiKey:
        """Add a key; Conflict if its prefix is taken."""

    @abstractmethod
    def find_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        """The key with this prefix and its digest (revoked keys too), or None."""

    @abstractmethod
    def get_key(self, key_id: int) -> ApiKey | None: ...

    @abstractmethod
    def list_keys(self, org_id: str | None = None) -> list[ApiKey]:
        """Every key (``org_id`` None) or one organisation's, revoked ones too, oldest
        first."""

    @abstractmethod
    def revoke_key(self, key_id: int) -> ApiKey | None:
        """Revoke a key (a revoked one keeps its revocation time); None if there is none."""

    @abstractmethod
    def touch_key(self, key_id: int, every: float = TOUCH_EVERY) -> None:
        """Set the key's last use to now, unless it was set within ``every`` seconds."""

    # -- the audit log --------------------------------------------------------------------
    @abstractmethod
    def add_audit(self, entry: NewAuditEntry) -> AuditEntry:
        """Add an entry, timed by the database's clock."""

    @abstractmethod
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
        """Newest first; ``before_id``: entries older than that one (keyset pagination).
        Each filter left None matches anything."""

    # -- processes ------------------------------------------------------------------------
    @abstractmethod
    def beat(self, process: ProcessInfo) -> None:
        """Add or update a process's row; its last beat is the database's now (its start,
        the first beat's). The times and ``alive`` of ``process`` are ignored."""

    @abstractmethod
    def list_processes(
        self, alive_within: float, *, include_dead: bool = False
    ) -> list[ProcessInfo]:
        """Processes whose last beat is within ``alive_within`` seconds; with
        ``include_dead`` the others still registered too (``alive`` False): those that
        stopped without a clean stop and are not pruned yet. By kind, host, pid."""

    @abstractmethod
    def remove_process(self, process_id: str) -> bool:
        """Delete a process's row (a clean stop); False if there was none."""

    @abstractmethod
    def prune_processes(self, older_than: float) -> int:
        """Delete the rows of processes not seen for ``older_than`` seconds; how many."""

    # -- dashboard users ------------------------------------------------------------------
    @abstractmethod
    def insert_user(
        self,
        name: str,
        org_id: str | None,
        role: str,
        password_hash: str,
        created_by: str | None,
    ) -> User:
        """Add a user; Conflict if its organisation has a user of that name."""

    @abstractmethod
    def find_user(self, name: str, org_id: str | None) -> tuple[User, str] | None:
        """The user of this name in this organisation (None: a cluster user), disabled
        ones too, with its password hash; or None."""

    @abstractmethod
    def get_user(self, user_id: int) -> User | None: ...

    @abstractmethod
    def list_users(self, org_id: str | None = None) -> list[User]:
        """Every user (``org_id`` None) or one organisation's, disabled ones too, by
        organisation and name."""

    @abstractmethod
    def disable_user(self, user_id: int) -> User | None:
        """Disable a user (keeping a first disabling time); None if there is none."""

    @abstractmethod
    def set_user_password(self, user_id: int, password_hash: str) -> User | None:
        """Replace the user's password hash; None if there is no such user."""

    @abstractmethod
    def user_signed_in(self, user_id: int, password_hash: str | None = None) -> None:
        """Set the user's last sign-in to now, and its hash to ``password_hash`` if given
        (a rehash after the hashing parameters changed)."""

    # -- shared secrets -------------------------------------------------------------------
    @abstractmethod
    def get_secret(self, name: str) -> str | None: ...

    @abstractmethod
    def put_secret(self, name: str, value: str) -> str:
        """Store ``value`` under ``name`` unless a value is stored there already; the
        stored value (so concurrent makers all end up with the first one)."""


# -- row decoding shared by the dialects ---------------------------------------------------

TimeDecoder = Callable[[Any], datetime | None]
JsonDecoder = Callable[[Any], Any]


def _required(t: TimeDecoder, value: Any) -> datetime:
    decoded = t(value)
    assert decoded is not None
    return decoded


def decode_key(row: dict[str, Any], t: TimeDecoder) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        org_id=row["org_id"],
        role=row["role"],
        prefix=row["prefix"],
        created_at=_required(t, row["created_at"]),
        created_by=row["created_by"],
        last_used_at=t(row["last_used_at"]),
        revoked_at=t(row["revoked_at"]),
    )


def decode_user(row: dict[str, Any], t: TimeDecoder) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        org_id=row["org_id"],
        role=row["role"],
        created_at=_required(t, row["created_at"]),
        created_by=row["created_by"],
        last_login_at=t(row["last_login_at"]),
        disabled_at=t(row["disabled_at"]),
    )


def decode_audit(row: dict[str, Any], t: TimeDecoder, j: JsonDecoder) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=_required(t, row["at"]),
        actor_kind=row["actor_kind"],
        actor=row["actor"],
        actor_id=row["actor_id"],
        org_id=row["org_id"],
        address=row["address"],
        action=row["action"],
        target_kind=row["target_kind"],
        target_id=row["target_id"],
        details=j(row["details"]),
    )


def decode_process(row: dict[str, Any], t: TimeDecoder, j: JsonDecoder) -> ProcessInfo:
    queues = j(row["queues"])
    return ProcessInfo(
        id=row["id"],
        kind=row["kind"],
        host=row["host"],
        pid=row["pid"],
        queues=None if queues is None else tuple(queues),
        concurrency=row["concurrency"],
        running=row["running"],
        completed=row["completed"],
        failed=row["failed"],
        version=row["version"],
        started_at=t(row["started_at"]),
        last_seen_at=t(row["last_seen_at"]),
        alive=bool(row["alive"]),
    )


def process_params(
    process: ProcessInfo, queues: Callable[[Sequence[str] | None], Any]
) -> dict[str, Any]:
    """A beat's query parameters; ``queues`` encodes the list for the dialect."""
    return {
        "id": process.id,
        "kind": process.kind,
        "host": process.host,
        "pid": process.pid,
        "queues": queues(process.queues),
        "concurrency": process.concurrency,
        "running": process.running,
        "completed": process.completed,
        "failed": process.failed,
        "version": process.version,
    }


def audit_params(entry: NewAuditEntry, details: Any) -> dict[str, Any]:
    """The add_audit statement's parameters (``details``: as the dialect stores JSON)."""
    return {**entry.__dict__, "details": details}
