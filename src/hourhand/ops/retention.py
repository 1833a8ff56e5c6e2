"""Pruning old finished jobs (``hourhand prune``): by hand, or now by the retention policy
of the settings (``[retention]``, which the system schedule hourhand.retention applies);
what would go, then deleting it in short batches. The job statistics keep what the jobs
counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hourhand.app_operators import PRUNED_STATES
from hourhand.errors import Forbidden, InvalidInput
from hourhand.ops.actor import Actor, Role
from hourhand.retention import RETENTION, Pruner, RetentionReport, policy_rules, run_policy

if TYPE_CHECKING:
    from hourhand.ops import Operations


def check_cluster_job(actor: Actor, job_type: str, org_id: str | None) -> None:
    """Enqueueing or scheduling the retention job deletes every organisation's jobs: only
    an admin outside any organisation may, and never into an organisation."""
    if job_type != RETENTION:
        return
    action = f"running {RETENTION} (it prunes every organisation's jobs)"
    actor.require(Role.ADMIN, action)
    if actor.org_id is not None or org_id is not None:
        raise Forbidden(f"{action} needs a key outside any organisation, and no organisation")


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
        self._allowed(actor)
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        matched = self.app.prunable(seconds, states)
        if dry_run:
            return PruneResult(seconds, matched, 0, True)
        deleted = self.app.prune(seconds, states)
        details = {"older_than": seconds, "states": list(states), "deleted": deleted}
        self.ops.record(actor, "jobs.prune", "jobs", None, None, details)
        return PruneResult(seconds, matched, deleted, False)

    def apply_policy(self, actor: Actor, *, dry_run: bool = False) -> RetentionReport:
        """Prune by the retention policy of the settings now, as its schedule would (or,
        with ``dry_run``, count what it would delete, rule by rule). InvalidInput if the
        settings have no policy."""
        self._allowed(actor)
        settings = self.app.retention()
        if settings is None:
            raise InvalidInput(
                "no retention policy: add a [retention] table to the config file or set "
                "HOURHAND_RETENTION_* variables (or pass --older-than)"
            )
        policy = settings.policy()
        if dry_run:
            return Pruner(self.app.store).count(policy_rules(policy))
        report = run_policy(self.app, policy, None)
        details = {"policy": policy.job_args(), "deleted": report.deleted}
        self.ops.record(actor, "jobs.prune", "jobs", None, None, details)
        return report

    def _allowed(self, actor: Actor) -> None:
        actor.require(Role.ADMIN, "pruning jobs")
        if actor.org_id is not None:
            raise Forbidden("pruning jobs needs a key outside any organisation")
