"""/v1/queues: counts per queue; pause and resume (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from hourhand.web.auth import App, Caller
from hourhand.web.models import QueueOut

router = APIRouter(tags=["queues"])

QueueName = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/v1/queues", response_model=list[QueueOut])
def list_queues(app: App, actor: Caller) -> list[QueueOut]:
    """Every queue with its jobs per state and the age of its oldest ready job."""
    found = app.ops.queues.list(actor)
    now = app.ops.queues.now()
    return [QueueOut.of(q, now) for q in found]


@router.post("/v1/queues/{name}/pause", response_model=QueueOut)
def pause(app: App, actor: Caller, name: QueueName) -> QueueOut:
    """Stop workers claiming this queue's jobs (running ones finish)."""
    info = app.ops.queues.pause(actor, name)
    return QueueOut.of(info, app.ops.queues.now())


@router.post("/v1/queues/{name}/resume", response_model=QueueOut)
def resume(app: App, actor: Caller, name: QueueName) -> QueueOut:
    info = app.ops.queues.resume(actor, name)
    return QueueOut.of(info, app.ops.queues.now())
