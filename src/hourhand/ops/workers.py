"""The worker and scheduler processes that are running now (and those that stopped without
a clean stop, until they are pruned): each registers itself and beats every few seconds
(:mod:`hourhand.presence`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from hourhand.ops.actor import Actor, Role
from hourhand.presence import ALIVE_WITHIN
from hourhand.store.records import ProcessInfo

if TYPE_CHECKING:
    from hourhand.app import Hourhand


class Workers:
    """List the registered processes."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app

    def list(self, actor: Actor, include_dead: bool = False) -> list[ProcessInfo]:
        """Processes seen within ALIVE_WITHIN seconds, by kind, host and pid; with
        ``include_dead`` also those not seen since (``alive`` False) that are not pruned
        yet. Processes serve the whole cluster, so an organisation's actor sees them too,
        but not their job counts (they count other organisations' jobs too) nor the
        version of hourhand they run."""
        actor.require(Role.VIEWER, "listing workers")
        found = self.app.store.records.list_processes(ALIVE_WITHIN, include_dead=include_dead)
        if actor.org_id is not None:
            found = [
                replace(p, running=None, completed=None, failed=None, version=None) for p in found
            ]
        return found
