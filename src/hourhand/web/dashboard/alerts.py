"""The dashboard's alerts: the open (firing, pending) and past alerts with acknowledge and
silence, the rules and the channels they send through (never a secret, nor a webhook's
path), and a test notification through a channel (cluster admins).

Every read and action goes through ``hh.ops.alerts`` with the signed-in actor."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hourhand.errors import DeliveryFailed, InvalidInput, NotFound
from hourhand.ops.actor import Role
from hourhand.ops.alerts import RuleInfo
from hourhand.web.dashboard.app import App, redirect, render
from hourhand.web.dashboard.session import Viewer

logger = logging.getLogger(__name__)

router = APIRouter()

OPEN_LIMIT = 200  # open alerts a page shows (there are rarely more than a few)
PAST_PAGE = 50  # resolved alerts per page
SILENCES = {"1h": (3600.0, "1 h"), "4h": (4 * 3600.0, "4 h"), "1d": (86400.0, "1 day")}
TARGETS = ("job", "schedule", "queue", "org")  # a rule's target keys, as shown
NOT_PARAMETERS = {"kind", "severity", "channels", "enabled", *TARGETS}


def rule_parameters(info: RuleInfo) -> str:
    """A rule's condition parameters as ``key=value`` text (its target, severity and
    channels are shown apart)."""
    spec = info.rule.model_dump(by_alias=True, exclude_none=True)
    return ", ".join(f"{k}={v}" for k, v in spec.items() if k not in NOT_PARAMETERS)


def rule_target(info: RuleInfo) -> str:
    rule = info.rule
    parts = [f"{key} {getattr(rule, key)}" for key in TARGETS if getattr(rule, key)]
    return ", ".join(parts) or "everything"


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, app: App, viewer: Viewer, before: int | None = None
) -> HTMLResponse:
    open_alerts = app.ops.alerts.list(viewer, state="open", limit=OPEN_LIMIT)
    past = app.ops.alerts.list(viewer, state="resolved", before_id=before, limit=PAST_PAGE + 1)
    older = past[PAST_PAGE - 1].id if len(past) > PAST_PAGE else None
    rules = app.ops.alerts.rules(viewer)
    context: dict[str, Any] = {
        "open_alerts": open_alerts,
        "past": past[:PAST_PAGE],
        "older": older,
        "first_page": before is None,
        "rules": [(r, rule_target(r), rule_parameters(r)) for r in rules],
        "channels": app.ops.alerts.channels(viewer),
        "silences": SILENCES,
        "now": datetime.now(UTC),
        "may_test": viewer.can(Role.ADMIN) and viewer.org_id is None,
        "active": "/alerts",
    }
    return render(request, "alerts.html", context)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/alerts/{alert_id}/ack")
async def ack(request: Request, app: App, viewer: Viewer, alert_id: int) -> Response:
    """Acknowledge (``undo=1``: take it back)."""
    form = await _form(request)
    undo = form.get("undo") == "1"
    alert = await run_in_threadpool(app.ops.alerts.ack, viewer, alert_id, undo=undo)
    done = "no longer acknowledged" if undo else "acknowledged"
    return redirect(request, "/alerts", f"Alert {alert.id} ({alert.rule}) {done}.")


@router.post("/alerts/{alert_id}/silence")
async def silence(request: Request, app: App, viewer: Viewer, alert_id: int) -> Response:
    """``for``: 1h, 4h, 1d, or end (end the silence now)."""
    form = await _form(request)
    choice = form.get("for", "")
    if choice != "end" and choice not in SILENCES:
        raise InvalidInput(f"silence for one of {', '.join(SILENCES)}, or end it")
    seconds = None if choice == "end" else SILENCES[choice][0]
    alert = await run_in_threadpool(app.ops.alerts.silence, viewer, alert_id, seconds)
    if seconds is None:
        ended = f"Alert {alert.id} ({alert.rule}) is no longer silenced."
        return redirect(request, "/alerts", ended)
    words = SILENCES[choice][1]
    return redirect(request, "/alerts", f"Alert {alert.id} ({alert.rule}) silenced for {words}.")


@router.post("/alerts/test")
async def send_test(request: Request, app: App, viewer: Viewer) -> Response:
    """A sample notification through a channel now (cluster admins)."""
    form = await _form(request)
    channel = form.get("channel", "")
    try:
        await run_in_threadpool(app.ops.alerts.send_test, viewer, channel)
    except (DeliveryFailed, NotFound) as exc:
        failed = f"The test through {channel} failed: {exc}"  # (no secrets: channels.py)
        return redirect(request, "/alerts", failed, "error")
    return redirect(request, "/alerts", f"A test notification went through {channel}.")
