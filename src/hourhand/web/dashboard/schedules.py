"""The dashboard's schedules: every schedule with its cron in words, next runs, last run
and success rate; a schedule's page (its ledger of fire times and its edit history); edit
with a live preview and a before/after diff; create from a job type's form; enable,
disable, trigger; and the cron preview fragment the script fetches as you type.

Every read and action goes through ``hh.ops.schedules`` with the signed-in actor; roles,
organisation scope and the audit log are applied there."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hourhand.app import Hourhand
from hourhand.errors import InvalidInput
from hourhand.ops import CronPreview, JobTypeInfo
from hourhand.ops.actor import Actor, Role
from hourhand.ops.schedules import SuccessRate
from hourhand.schedule_model import Schedule
from hourhand.web.dashboard import schedule_forms as forms
from hourhand.web.dashboard.app import App, redirect, render
from hourhand.web.dashboard.schedule_forms import FormErrors
from hourhand.web.dashboard.session import Viewer

logger = logging.getLogger(__name__)

router = APIRouter()

NEXT_RUNS = 5  # coming fire times a listing shows
PREVIEW_RUNS = 10  # ... and a preview
LEDGER_PAGE = 50  # ledger entries a schedule's page shows
HISTORY = 50  # audit entries of a schedule's page
SOURCES = ("code", "config", "user")
# what each ledger status means, for people
STATUS_WORDS = {
    "enqueued": "ran",
    "held": "held behind the previous run (overlap: queue)",
    "triggered": "run by hand",
    "merged": "missed, folded into one catch-up run",
    "scheduler_down": "missed: no scheduler fired it in time (misfire: skip)",
    "skipped_misfire": "missed, too old or beyond the cap to catch up (misfire: all)",
    "skipped_overlap": "skipped: the previous run was still waiting or running",
    "disabled": "skipped: the schedule was disabled",
    "error": "not run: the scheduler could not make the run (see its log)",
}


@dataclass(frozen=True)
class Row:
    """A schedule as the listing shows it."""

    schedule: Schedule
    preview: CronPreview | None  # None: its expression no longer parses
    rate: SuccessRate | None
    can_change: bool  # the viewer may enable, disable, trigger it
    can_edit: bool  # ... and edit its definition (a user schedule)


def can_change(actor: Actor, schedule: Schedule) -> bool:
    """Whether ops would let ``actor`` enable, disable and trigger the schedule (to show
    its buttons; ops checks again): operators, on their organisation's or any outside one."""
    return actor.can(Role.OPERATOR)


def can_edit(actor: Actor, schedule: Schedule) -> bool:
    """Whether ops would let ``actor`` change the schedule's definition: code schedules are
    changed in the code; a config schedule's edits are kept as an operator's overrides of
    the config file (until `hourhand schedules reset`); outside any organisation, admins."""
    if schedule.source not in ("user", "config") or not actor.can(Role.OPERATOR):
        return False
    return schedule.org_id is not None or actor.can(Role.ADMIN)


def _preview(
    hh: Hourhand, expr: str, tz: str, count: int, after: datetime | None = None
) -> CronPreview | None:
    """The coming fire times, or None for an expression or zone that does not parse."""
    try:
        return hh.ops.schedules.preview(expr, tz.strip() or "UTC", count, after)
    except InvalidInput:
        return None


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields (the guard has read and checked it already)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


# -- pages ----------------------------------------------------------------------------------


@router.get("/schedules", response_class=HTMLResponse)
def schedules_page(
    request: Request, app: App, viewer: Viewer, source: str | None = None
) -> HTMLResponse:
    source = source if source in SOURCES else None
    found = app.ops.schedules.list(viewer, source=source)
    rates = app.ops.schedules.success_rates(viewer, found)
    now = datetime.now(UTC)
    rows = [
        Row(
            s,
            _preview(app, s.cron, s.tz, NEXT_RUNS, now),
            rates.get(s.id),
            can_change(viewer, s),
            can_edit(viewer, s),
        )
        for s in found
    ]
    context = {"rows": rows, "source": source, "sources": SOURCES, "active": "/schedules"}
    return render(request, "schedules.html", context)


@router.get("/schedules/new", response_class=HTMLResponse)
def new_page(request: Request, app: App, viewer: Viewer, type: str | None = None) -> HTMLResponse:
    """Pick a job type, then fill in the form of its arguments and the schedule's."""
    viewer.require(Role.OPERATOR, "creating a schedule")
    texts = {**forms.definition_texts(None), "name": "", "org": "", "enabled": "on"}
    return _new_form(request, app, viewer, type, texts, {})


@router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_page(
    request: Request, app: App, viewer: Viewer, schedule_id: int, cursor: str | None = None
) -> HTMLResponse:
    schedule = app.ops.schedules.get(viewer, schedule_id)
    page = app.ops.schedules.runs(viewer, schedule.id, LEDGER_PAGE, cursor)
    history = app.ops.audit.list(
        viewer, target_kind="schedule", target_id=schedule.id, limit=HISTORY
    )
    context = {
        "schedule": schedule,
        "preview": _preview(app, schedule.cron, schedule.tz, NEXT_RUNS),
        "rate": app.ops.schedules.success_rates(viewer, [schedule]).get(schedule.id),
        "runs": page.runs,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "history": history,
        "status_words": STATUS_WORDS,
        "can_change": can_change(viewer, schedule),
        "can_edit": can_edit(viewer, schedule),
        "labels": forms.LABELS,
        "active": "/schedules",
    }
    return render(request, "schedule.html", context)


@router.get("/fragments/cron-preview", response_class=HTMLResponse)
def cron_preview(
    request: Request, app: App, viewer: Viewer, expr: str = "", tz: str = "UTC"
) -> HTMLResponse:
    """The next fire times of an expression in a zone and in UTC, with the DST notes: a
    part of a page, which the script fetches as the cron or zone field changes."""
    del viewer  # anyone signed in may preview
    return render(request, "cron_preview.html", _preview_context(app, expr, tz))


def _preview_context(app: Hourhand, expr: str, tz: str) -> dict[str, Any]:
    preview, error = None, None
    if not expr.strip():
        error = "Type a cron expression, e.g. 0 8 * * MON"
    elif len(expr) > 200 or len(tz) > 100:
        error = "That expression or zone is too long."
    else:
        try:
            preview = app.ops.schedules.preview(expr, tz.strip() or "UTC", PREVIEW_RUNS)
        except InvalidInput as exc:
            error = str(exc)
    return {"preview": preview, "preview_error": error}


# -- edit -----------------------------------------------------------------------------------


@router.get("/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, app: App, viewer: Viewer, schedule_id: int) -> HTMLResponse:
    viewer.require(Role.OPERATOR, "editing a schedule")
    schedule = app.ops.schedules.get(viewer, schedule_id)
    return _edit_form(request, app, viewer, schedule, forms.definition_texts(schedule))


@router.post("/schedules/{schedule_id}/edit")
async def edit_post(request: Request, app: App, viewer: Viewer, schedule_id: int) -> Response:
    """``action``: preview (the form again, with the typed cron's next times), review
    (the before/after diff to confirm), save (the confirmed change)."""
    form = await _form(request)
    return await run_in_threadpool(_edit, request, app, viewer, schedule_id, form)


def _edit(
    request: Request, app: Hourhand, viewer: Actor, schedule_id: int, form: dict[str, str]
) -> Response:
    schedule = app.ops.schedules.get(viewer, schedule_id)
    texts = forms.submitted(form, forms.EDIT_FIELDS)
    action = form.get("action")
    if action not in ("review", "save"):
        return _edit_form(request, app, viewer, schedule, texts)
    try:
        changes = forms.changes_of(schedule, forms.parse_definition(texts))
        if not changes:
            raise FormErrors({"": "Nothing changed: edit a field first."})
        after = app.ops.schedules.check_update(viewer, schedule.id, **changes)
    except FormErrors as exc:
        return _edit_form(request, app, viewer, schedule, texts, exc.errors)
    except InvalidInput as exc:
        return _edit_form(request, app, viewer, schedule, texts, {"": str(exc)})
    if action == "save":
        if form.get("base") != _version(schedule):
            note = "The schedule changed since you reviewed this edit: review it again."
            return _edit_form(request, app, viewer, schedule, texts, {"": note})
        saved = app.ops.schedules.update(viewer, schedule.id, **changes)
        return redirect(request, f"/schedules/{saved.id}", f"Schedule {saved.name} saved.")
    context = {
        "schedule": schedule,
        "rows": forms.diff(schedule, after),
        "texts": texts,
        "base": _version(schedule),
        "before": _preview(app, schedule.cron, schedule.tz, NEXT_RUNS),
        "after": _preview(app, after.cron, after.tz, NEXT_RUNS),
        "active": "/schedules",
    }
    return render(request, "schedule_diff.html", context)


def _version(schedule: Schedule) -> str:
    """What a confirm carries, to find out the schedule changed since its review."""
    stamp = schedule.updated_at.isoformat() if schedule.updated_at else ""
    return f"{schedule.id}@{stamp}"


def _edit_form(
    request: Request,
    app: Hourhand,
    viewer: Actor,
    schedule: Schedule,
    texts: dict[str, str],
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {
        "schedule": schedule,
        "texts": texts,
        "errors": errors or {},
        "editable": can_edit(viewer, schedule),
        **_form_context(),
        **_preview_context(app, texts.get("cron", ""), texts.get("tz", "")),
    }
    return render(request, "schedule_edit.html", context, status=400 if errors else 200)


def _form_context() -> dict[str, Any]:
    return {
        "labels": forms.LABELS,
        "choices": forms.CHOICES,
        "choice_words": forms.CHOICE_WORDS,
        "overlap_words": forms.OVERLAP_WORDS,
        "active": "/schedules",
    }


# -- new ------------------------------------------------------------------------------------

NEW_FIELDS = ("name", "org", "enabled")


@router.post("/schedules/new")
async def new_post(request: Request, app: App, viewer: Viewer) -> Response:
    """``action``: preview (the form again), create."""
    form = await _form(request)
    return await run_in_threadpool(_create, request, app, viewer, form)


def _create(request: Request, app: Hourhand, viewer: Actor, form: dict[str, str]) -> Response:
    texts = forms.submitted(form, forms.EDIT_FIELDS + NEW_FIELDS)
    chosen = _type(app, viewer, form.get("type"))
    if chosen is None or form.get("action") != "create":
        return _new_form(request, app, viewer, form.get("type"), texts, form)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    args: dict[str, Any] = {}
    try:
        values = forms.parse_definition({**texts, "args": ""})
    except FormErrors as exc:
        errors.update(exc.errors)
    try:
        args = forms.parse_args(forms.arg_fields(chosen.schema), form)
    except FormErrors as exc:
        errors.update(exc.errors)
    name = texts["name"].strip()
    if not name:
        errors["name"] = "needs a value"
    if errors:
        return _new_form(request, app, viewer, chosen.name, texts, form, errors)
    options = {k: v for k, v in values.items() if v is not None and k not in ("args", "cron", "tz")}
    try:
        made = app.ops.schedules.create(
            viewer,
            name,
            chosen.name,
            values["cron"],
            tz=values["tz"],
            args=args,
            org_id=texts["org"].strip() or None,
            enabled=texts["enabled"] == "on",
            created_by=viewer.label,
            **options,
        )
    except InvalidInput as exc:
        return _new_form(request, app, viewer, chosen.name, texts, form, {"": str(exc)})
    return redirect(request, f"/schedules/{made.id}", f"Schedule {made.name} created.")


def _types(app: Hourhand, viewer: Actor) -> list[JobTypeInfo]:
    """The job types this viewer may schedule (the built-in kinds: cluster admins only)."""
    cluster_admin = viewer.can(Role.ADMIN) and viewer.org_id is None
    return [t for t in app.ops.jobs.types(viewer) if cluster_admin or not t.admin_only]


def _type(app: Hourhand, viewer: Actor, name: str | None) -> JobTypeInfo | None:
    return next((t for t in _types(app, viewer) if t.name == name), None)


def _new_form(
    request: Request,
    app: Hourhand,
    viewer: Actor,
    type_name: str | None,
    texts: dict[str, str],
    form: dict[str, str],
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    types = _types(app, viewer)
    chosen = next((t for t in types if t.name == type_name), None)
    errors = dict(errors or {})
    if type_name and chosen is None:
        errors["type"] = f"no job type {type_name!r} you may schedule"
    context = {
        "types": types,
        "chosen": chosen,
        "fields": forms.arg_fields(chosen.schema) if chosen is not None else [],
        "texts": texts,
        "arg_texts": {k: v for k, v in form.items() if k.startswith(forms.ARG_PREFIX)},
        "errors": errors,
        "cluster": viewer.org_id is None,
        **_form_context(),
        **_preview_context(app, texts.get("cron", ""), texts.get("tz", "")),
    }
    return render(request, "schedule_new.html", context, status=400 if errors else 200)


# -- actions --------------------------------------------------------------------------------


def _back(form: dict[str, str], schedule_id: int) -> str:
    """Where an action returns: the listing if it was pressed there, else the schedule."""
    return "/schedules" if form.get("back") == "list" else f"/schedules/{schedule_id}"


@router.post("/schedules/{schedule_id}/enable")
async def enable(request: Request, app: App, viewer: Viewer, schedule_id: int) -> Response:
    form = await _form(request)
    schedule = await run_in_threadpool(app.ops.schedules.enable, viewer, schedule_id)
    return redirect(request, _back(form, schedule.id), f"Schedule {schedule.name} enabled.")


@router.post("/schedules/{schedule_id}/disable")
async def disable(request: Request, app: App, viewer: Viewer, schedule_id: int) -> Response:
    form = await _form(request)
    schedule = await run_in_threadpool(app.ops.schedules.disable, viewer, schedule_id)
    return redirect(request, _back(form, schedule.id), f"Schedule {schedule.name} disabled.")


@router.post("/schedules/{schedule_id}/trigger")
async def trigger(request: Request, app: App, viewer: Viewer, schedule_id: int) -> Response:
    form = await _form(request)
    job = await run_in_threadpool(app.ops.schedules.trigger, viewer, schedule_id)
    return redirect(request, _back(form, schedule_id), f"Triggered: job {job.id} is {job.state}.")


@router.post("/schedules/{schedule_id}/delete")
async def delete(request: Request, app: App, viewer: Viewer, schedule_id: int) -> Response:
    def deleting() -> str:
        name = app.ops.schedules.get(viewer, schedule_id).name
        app.ops.schedules.delete(viewer, schedule_id)
        return name

    name = await run_in_threadpool(deleting)
    return redirect(request, "/schedules", f"Schedule {name} deleted.")
