"""The audit log: who did what, when, from where, to which job, schedule, queue or key.

Operations record their actions here after they succeed (``job.retry``, ``schedule.update``
with the schedule's before and after, ``key.create``, ``queue.pause``). Recording never
fails the action it records: a write that fails is logged as a warning (the action and its
target, never the details, which may hold job arguments) and the action stands.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hourhand import checks
from hourhand.errors import DatabaseUnavailable
from hourhand.ops.actor import Actor, Role
from hourhand.outage import first_line
from hourhand.store.records import AuditEntry, NewAuditEntry

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 100  # entries a listing returns
MAX_LIMIT = 1000


class Audit:
    """Record actions and list them, newest first."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app

    def record(
        self,
        actor: Actor,
        action: str,
        target_kind: str | None,
        target_id: str | int | None,
        org_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry | None:
        """Add an entry for an action ``actor`` took (None if it could not be written).
        ``org_id``: the organisation of the target (default: the actor's)."""
        try:
            entry = NewAuditEntry(
                actor_kind=actor.kind,
                actor=actor.name,
                actor_id=actor.id,
                org_id=org_id if org_id is not None else actor.org_id,
                address=actor.address,
                action=action,
                target_kind=target_kind,
                target_id=None if target_id is None else str(target_id),
                # JSON-ready, whatever the caller passed (a datetime in a before/after)
                details=None if details is None else json.loads(json.dumps(details, default=str)),
            )
            return self.app.store.records.add_audit(entry)
        except Exception as exc:  # never into the caller's action
            # The reason, but not the message of a refused value: it may quote the details.
            reason = first_line(exc) if isinstance(exc, DatabaseUnavailable) else type(exc).__name__
            logger.warning(
                "audit: could not record %s by %s on %s %s: %s",
                action,
                actor.label,
                target_kind,
                target_id,
                reason,
            )
            return None

    def list(
        self,
        actor: Actor,
        target_kind: str | None = None,
        target_id: str | int | None = None,
        action: str | None = None,
        limit: int = DEFAULT_LIMIT,
        before_id: int | None = None,
        *,
        org_id: str | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first, filtered; ``before_id`` pages on (entries older than it).
        An organisation's actor sees only its organisation's entries; ``org_id`` narrows a
        cluster actor's listing to one organisation. Where a request came from (its
        address) is for admins: others read the entries without it."""
        actor.require(Role.VIEWER, "reading the audit log")
        checks.integer("limit", limit, 1, MAX_LIMIT)
        if before_id is not None:
            checks.integer("before_id", before_id, 1, checks.MAX_ID)
        if not actor.sees(org_id) and org_id is not None:
            return []  # another organisation's entries: none to see
        entries = self.app.store.records.list_audit(
            org_id=actor.scope(org_id),
            target_kind=target_kind,
            target_id=None if target_id is None else str(target_id),
            action=action,
            limit=limit,
            before_id=before_id,
        )
        if actor.can(Role.ADMIN):
            return entries
        return [replace(entry, address=None) for entry in entries]
