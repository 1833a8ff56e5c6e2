"""Queues, as operators see them: their counts per state, the age of the oldest ready
job, pause and resume (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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
        del actor
        return self.app.queue(name)

    def pause(self, actor: Actor, name: str) -> QueueInfo:
        actor.require(Role.ADMIN, "pausing a queue")
        info = self.app.pause_queue(name)
        self.ops.record(actor, "queue.pause", "queue", name, None, None)
        return info

    def resume(self, actor: Actor, name: str) -> QueueInfo:
        actor.require(Role.ADMIN, "resuming a queue")
        info = self.app.resume_queue(name)
        self.ops.record(actor, "queue.resume", "queue", name, None, None)
        return info

    # last: inside the class, later annotations would take ``list`` for this method
    def list(self, actor: Actor) -> list[QueueInfo]:
        """Every queue, by name, with its counts (cluster-wide: queues are shared by every
        organisation)."""
        del actor  # any role may read queues
        return self.app.queues()
