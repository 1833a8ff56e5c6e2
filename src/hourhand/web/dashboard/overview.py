"""The overview: is the background work healthy, at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hourhand.web.dashboard.app import App, render
from hourhand.web.dashboard.session import Viewer

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    return render(request, "overview.html", {})
