"""Pruning old finished jobs by hand (``hourhand prune``): what would go, then deleting it
in short batches. The job statistics keep what the jobs counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hourhand.app import PRUNED_STATES
from hourhand.errors import Forbidden
from hourhand.ops.actor import Actor, Role

if TYPE_CHECKING:
    from hourhand.ops import Operations


@dataclass(frozen=True)
class PruneResult:
    older_than: float  # seconds
    matched: dict[str, int] = field(default_factory=dict)  # jobs per state that qualified
    deleted: int = 0  # 0 in a dry run
    dry_run: bool = False


class Retention:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    def prune(
        self,
        actor: Actor,
        older_than: float | timedelta,
        states: tuple[str, ...] = PRUNED_STATES,
        *,
        dry_run: bool = False,
    ) -> PruneResult:
        """Delete (or, with ``dry_run``, count) the jobs of ``states`` that finished more
        than ``older_than`` ago, with their attempts: every organisation's, so a cluster
        admin's action."""
        actor.require(Role.ADMIN, "pruning jobs")
        if actor.org_id is not None:
            raise Forbidden("pruning jobs needs a key outside any organisation")
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        matched = self.app.prunable(seconds, states)
        if dry_run:
            return PruneResult(seconds, matched, 0, True)
        deleted = self.app.prune(seconds, states)
        details = {"older_than": seconds, "states": list(states), "deleted": deleted}
        self.ops.record(actor, "jobs.prune", "jobs", None, None, details)
        return PruneResult(seconds, matched, deleted, False)
