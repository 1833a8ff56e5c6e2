"""The audit page (admins): who did what, when, from where; newest first, filtered by
action, target and actor kind, paged by keyset (``before`` an entry's id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from hourhand.ops.actor import Role
from hourhand.web.dashboard.app import App, render
from hourhand.web.dashboard.session import Viewer

router = APIRouter()

PAGE = 100  # entries a page shows

Text = Annotated[str | None, Query(max_length=200)]


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    app: App,
    viewer: Viewer,
    action: Text = None,
    target_kind: Text = None,
    target_id: Text = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    viewer.require(Role.ADMIN, "the audit page")
    found = app.ops.audit.list(
        viewer,
        target_kind=target_kind or None,
        target_id=target_id or None,
        action=action or None,
        limit=PAGE + 1,
        before_id=before,
    )
    more = len(found) > PAGE
    entries = found[:PAGE]
    filters = {
        "action": action or "",
        "target_kind": target_kind or "",
        "target_id": target_id or "",
    }
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "next_before": entries[-1].id if more and entries else None,
            "filters": filters,
            "now": app.ops.queues.now(),
            "active": "/audit",
        },
    )
