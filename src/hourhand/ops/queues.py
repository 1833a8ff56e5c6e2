"""Queues, as operators see them: their counts per state, the age of the oldest ready
job, pause and resume (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from hourhand.errors import Forbidden
from hourhand.ops.actor import Actor, Role
from hourhand.store import QueueInfo

if TYPE_CHECKING:
    from hourhand.ops import Operations


class QueueOps:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    def now(self) -> datetime:
        """The database's clock, by which the age of a queue's oldest ready job is
        measured (several machines' clocks may differ; the database's is the one)."""
        return self.app.store.now()

    def get(self, actor: Actor, name: str) -> QueueInfo:
        _cluster(actor, Role.VIEWER, "reading queues")
        return self.app.queue(name)

    def pause(self, actor: Actor, name: str) -> QueueInfo:
        _cluster(actor, Role.ADMIN, "pausing a queue")
        info = self.app.pause_queue(name)
        self.ops.record(actor, "queue.pause", "queue", name, None, None)
        return info

    def resume(self, actor: Actor, name: str) -> QueueInfo:
        _cluster(actor, Role.ADMIN, "resuming a queue")
        info = self.app.resume_queue(name)
        self.ops.record(actor, "queue.resume", "queue", name, None, None)
        return info

    # last: inside the class, later annotations would take ``list`` for this method
    def list(self, actor: Actor) -> list[QueueInfo]:
        """Every queue, by name, with its counts. Queues are shared by every organisation,
        and so are their counts: cluster actors only."""
        _cluster(actor, Role.VIEWER, "reading queues")
        return self.app.queues()


def _cluster(actor: Actor, role: Role, action: str) -> None:
    """Queues are the cluster's: an organisation's actor neither reads their counts (every
    organisation's jobs are in them) nor pauses them (every organisation's jobs stop)."""
    actor.require(role, action)
    if actor.org_id is not None:
        raise Forbidden(f"{action} needs a key outside any organisation (queues are shared)")
