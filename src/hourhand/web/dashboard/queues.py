"""The queues page: every queue with its jobs per state, the age of its oldest ready job,
its throughput, its job types' limits and the workers serving it; pause and resume
(admins outside any organisation: ops decides). ``/fragments/queues`` is its table."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from hourhand.ops.actor import Actor
from hourhand.web.dashboard.app import App, redirect, render
from hourhand.web.dashboard.session import Viewer

router = APIRouter()

QueueName = Annotated[str, Path(min_length=1, max_length=200)]


def _context(app: App, viewer: Actor) -> dict[str, Any]:
    return {
        "queues": app.ops.overview.queues(viewer),
        "now": app.ops.queues.now(),
        "active": "/queues",
    }


@router.get("/queues", response_class=HTMLResponse)
def queues(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    return render(request, "queues.html", _context(app, viewer))


@router.get("/fragments/queues", response_class=HTMLResponse)
def queues_fragment(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    return render(request, "queues_body.html", _context(app, viewer))


@router.post("/queues/{name:path}/pause")
def pause(request: Request, app: App, viewer: Viewer, name: QueueName) -> Response:
    app.ops.queues.pause(viewer, name)
    return redirect(request, "/queues", f"Queue {name} paused: workers stop claiming its jobs.")


@router.post("/queues/{name:path}/resume")
def resume(request: Request, app: App, viewer: Viewer, name: QueueName) -> Response:
    app.ops.queues.resume(viewer, name)
    return redirect(request, "/queues", f"Queue {name} resumed.")
