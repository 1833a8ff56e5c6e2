"""The operations layer: every read and action people perform on hourhand (jobs,
schedules, queues, counts, workers, keys, the audit log), written once, above the store.
The CLI, the REST API and the dashboard are faces of it: they parse input, call an
operation with the :class:`Actor` making the request, and render what comes back.
Permissions, organisation scope and the audit log are applied here, not in the faces."""

from __future__ import annotations

from hourhand.ops.actor import ROLES, Actor, Role

__all__ = ["ROLES", "Actor", "Role"]
