"""The overview: is the background work healthy, at a glance. Jobs per state, completed
and failed attempts per minute over the last hour and day (SVG), queues, live workers,
firing alerts, the next scheduled runs. ``/fragments/overview`` is its body, which the
script re-fetches every few seconds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hourhand.ops.actor import Actor
from hourhand.ops.overview import ORG_COUNT_CAP
from hourhand.web.dashboard import charts
from hourhand.web.dashboard.app import App, render
from hourhand.web.dashboard.session import Viewer

router = APIRouter()

STATES = ("scheduled", "queued", "running", "retrying", "failed", "completed", "cancelled")
DAY_BUCKET = 15  # minutes per bar of the day's chart


def _context(app: App, viewer: Actor) -> dict[str, Any]:
    data = app.ops.overview.overview(viewer)
    hour = day = None
    if data.hour is not None and data.day is not None:
        hour = charts.throughput(data.hour, now=data.now, minutes=60, title="Last hour")
        day = charts.throughput(
            data.day, now=data.now, minutes=24 * 60, bucket=DAY_BUCKET, title="Last day"
        )
    states = [s for s in STATES if s in data.counts]
    return {
        "data": data,
        "now": data.now,
        "states": states,
        "cap": ORG_COUNT_CAP,
        "hour_chart": hour,
        "day_chart": day,
        "active": "/",
    }


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    return render(request, "overview.html", _context(app, viewer))


@router.get("/fragments/overview", response_class=HTMLResponse)
def overview_fragment(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    return render(request, "overview_body.html", _context(app, viewer))
