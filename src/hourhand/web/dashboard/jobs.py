"""The jobs pages: the listing (filters in the URL, keyset pages, bulk actions on the
selection or on the whole filter, with a confirm page that says how many), a job's page
(arguments, result, live progress, the attempts as a timeline, its actions), "run now" (a
form built from a job type's argument schema) and search.

Everything is read and done through ``hh.ops.jobs`` with the signed-in user's Actor: roles
and organisation scope are checked there (another organisation's job is not found)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from hourhand.errors import InvalidInput, JobNotFound, JobStateError
from hourhand.jobs import FINAL_STATES, Job, JobState
from hourhand.ops import Actor, BulkResult, JobQuery, JobTypeInfo, Role
from hourhand.ops.jobs import CANCELLABLE, MAX_BULK, RETRYABLE
from hourhand.web.dashboard import job_forms
from hourhand.web.dashboard.app import App, redirect, render
from hourhand.web.dashboard.session import Viewer

router = APIRouter()

PAGE_SIZE = 50  # jobs per page of the listing
PREVIEW_CHARS = 80  # of a job's arguments in a row
ERROR_CHARS = 160  # of an error's first line in a row
MAX_SELECTED = 500  # jobs one "selected" bulk action may name
BULK_ACTIONS = ("retry", "cancel", "delete")
DONE_WORDS = {"retry": "retried", "cancel": "cancelled", "delete": "deleted"}
STATES = [s.value for s in JobState]


# -- rows -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """A job as a row of a listing: the job and what the row shows of it."""

    job: Job
    preview: str
    error_line: str | None
    duration: float | None  # seconds of the latest attempt (running: so far)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def row(job: Job, now: datetime) -> Row:
    args = json.dumps(job.args, ensure_ascii=False, separators=(", ", ": "))
    error = job.error.strip().splitlines()[0] if job.error and job.error.strip() else None
    duration = None
    if job.started_at is not None:
        end = job.finished_at or (now if job.state == JobState.RUNNING else None)
        if end is not None:
            duration = max(0.0, (end - job.started_at).total_seconds())
    return Row(
        job,
        truncate(args, PREVIEW_CHARS),
        None if error is None else truncate(error, ERROR_CHARS),
        duration,
    )


def rows(jobs: Iterable[Job]) -> list[Row]:
    now = datetime.now(UTC)
    return [row(job, now) for job in jobs]


def jobs_link(params: dict[str, str]) -> str:
    """The listing's path with these query parameters."""
    return "/jobs" + ("?" + urlencode(params) if params else "")


async def run(fn: Callable[..., Response], *args: Any) -> Response:
    """A page's work off the event loop (it reads and writes the database)."""
    return await run_in_threadpool(fn, *args)


# -- the listing ------------------------------------------------------------------------------
@router.get("/jobs", response_class=HTMLResponse)
def list_jobs(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
    """Jobs matching the filters of the query string, newest first, a page at a time."""
    params = request.query_params
    values = {key: params.get(key, "") for key in job_forms.FILTER_KEYS}
    error = None
    try:
        query = job_forms.query_from(params, PAGE_SIZE)
    except InvalidInput as exc:
        query, error = None, str(exc)
    page = None if query is None else app.ops.jobs.list(viewer, query)
    filters = {} if query is None else job_forms.filter_params(query)
    for key in ("created_after", "created_before"):  # as the time inputs show them (UTC)
        values[key] = filters.get(key, values[key])
    next_url = None
    if page is not None and page.next_cursor is not None:
        next_url = jobs_link({**filters, "cursor": page.next_cursor})
    context = {
        "active": "/jobs",
        "rows": rows(page.jobs if page else []),
        "values": values,
        "filters": filters,
        "states": STATES,
        "type_names": [t.name for t in app.ops.jobs.types(viewer)],
        "error": error,
        "next_url": next_url,
        "first_url": jobs_link(filters) if query is not None and query.cursor else None,
    }
    return render(request, "jobs.html", context, status=400 if error else 200)


# -- bulk actions -----------------------------------------------------------------------------
def _bulk_call(app: App, action: str) -> Callable[..., BulkResult]:
    ops = app.ops.jobs
    calls: dict[str, Callable[..., BulkResult]] = {
        "retry": ops.bulk_retry,
        "cancel": ops.bulk_cancel,
        "delete": ops.bulk_delete,
    }
    return calls[action]


def _selected_ids(form: FormData) -> list[int]:
    ids = []
    for value in form.getlist("ids"):
        if not isinstance(value, str) or not value.isdigit() or len(value) > 19:
            raise InvalidInput(f"not a job id: {str(value)[:40]!r}")
        ids.append(int(value))
    if len(ids) > MAX_SELECTED:
        raise InvalidInput(f"select at most {MAX_SELECTED} jobs at a time")
    return list(dict.fromkeys(ids))


def _rate(form: FormData) -> float | None:
    text = str(form.get("rate") or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"the rate must be a number of jobs per second, not {text!r}") from None


@router.post("/jobs/bulk", response_class=HTMLResponse)
async def bulk(request: Request, app: App, viewer: Viewer) -> Response:
    """Retry, cancel or delete the selected jobs, or every job matching the filter. The
    first POST shows a confirm page (how many, a sample); the second, with ``confirm``,
    acts. ``do`` is ``ACTION:selected`` or ``ACTION:filter``."""
    form = await request.form()
    action, _, scope = str(form.get("do") or "").partition(":")
    if action not in BULK_ACTIONS or scope not in ("selected", "filter"):
        raise InvalidInput("say what to do: retry, cancel or delete, of the selection or filter")
    viewer.require(Role.OPERATOR, f"bulk {action}")
    confirmed = form.get("confirm") == "1"
    try:
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        query = replace(job_forms.query_from(fields, PAGE_SIZE), cursor=None)
    except InvalidInput as exc:
        return redirect(request, "/jobs", str(exc), "error")
    back = jobs_link(job_forms.filter_params(query))
    handler = _bulk_selected if scope == "selected" else _bulk_filter
    try:
        return await run(handler, request, app, viewer, form, action, query, back, confirmed)
    except InvalidInput as exc:
        return redirect(request, back, str(exc), "error")


def _bulk_selected(
    request: Request,
    app: App,
    viewer: Actor,
    form: FormData,
    action: str,
    query: JobQuery,
    back: str,
    confirmed: bool,
) -> Response:
    ids = _selected_ids(form)
    if not ids:
        return redirect(
            request, back, "Select jobs first (the boxes in the first column).", "error"
        )
    if not confirmed:
        jobs = []
        for job_id in ids:
            try:
                jobs.append(app.ops.jobs.visible(viewer, job_id))
            except JobNotFound:
                continue
        ids = [job.id for job in jobs]  # another organisation's ids are not found
        return _confirm_page(request, action, "selected", query, len(jobs), jobs, ids=ids)
    one = {
        "retry": app.ops.jobs.retry,
        "cancel": app.ops.jobs.cancel,
        "delete": app.ops.jobs.delete,
    }
    done, problems = 0, []
    for job_id in ids:
        try:
            one[action](viewer, job_id)
            done += 1
        except (JobStateError, JobNotFound) as exc:
            problems.append(str(exc))
    message = f"{DONE_WORDS[action].capitalize()} {_jobs(done)}."
    if problems:
        message += f" {_jobs(len(problems))} not: {problems[0]}" + (
            f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        )
    return redirect(request, back, message, "error" if problems and not done else "ok")


def _bulk_filter(
    request: Request,
    app: App,
    viewer: Actor,
    form: FormData,
    action: str,
    query: JobQuery,
    back: str,
    confirmed: bool,
) -> Response:
    call = _bulk_call(app, action)
    options: dict[str, Any] = {"limit": MAX_BULK}  # what the confirm page says one run does
    if action == "retry":
        options["rate"] = _rate(form)
    if not confirmed:
        result = call(viewer, query, dry_run=True, **options)
        return _confirm_page(
            request, action, "filter", query, result.matched, result.sample, result=result
        )
    result = call(viewer, query, **options)
    message = f"{DONE_WORDS[action].capitalize()} {_jobs(result.changed)} of the filter."
    if result.remaining:
        message += f" {result.remaining:,} more match: run it again."
    return redirect(request, back, message)


def _jobs(count: int) -> str:
    return f"{count:,} job" + ("" if count == 1 else "s")


def _confirm_page(
    request: Request,
    action: str,
    scope: str,
    query: JobQuery,
    count: int,
    sample: list[Job],
    *,
    ids: list[int] | None = None,
    result: BulkResult | None = None,
) -> HTMLResponse:
    filters = job_forms.filter_params(query)
    context = {
        "active": "/jobs",
        "action": action,
        "scope": scope,
        "count_text": result.matched_text if result is not None else f"{count:,}",
        "count": count,
        "batch": MAX_BULK if scope == "filter" and count > MAX_BULK else None,
        "rows": rows(sample[:10]),
        "ids": [str(i) for i in ids or []],
        "filters": filters,
        "rate": None if result is None else result.rate,
        "back": jobs_link(job_forms.filter_params(query)),
    }
    return render(request, "jobs_confirm.html", context)


# -- one job -------------------------------------------------------------------------------
@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def show_job(request: Request, app: App, viewer: Viewer, job_id: int) -> HTMLResponse:
    """A job: arguments, result, progress (live), attempts, actions."""
    detail = app.ops.jobs.get(viewer, job_id)
    job = detail.job
    now = datetime.now(UTC)
    context = {
        "active": "/jobs",
        "job": job,
        "row": row(job, now),
        "detail": detail,
        "attempts": detail.attempts,
        "now": now,
        "can_retry": job.state in RETRYABLE,
        "can_cancel": job.state in CANCELLABLE and not job.cancel_requested,
        "can_delete": job.state in FINAL_STATES,
    }
    return render(request, "job.html", context)


@router.get("/fragments/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(request: Request, app: App, viewer: Viewer, job_id: int) -> HTMLResponse:
    """The live part of a job's page: state, attempt, progress bar and message."""
    job = app.ops.jobs.visible(viewer, job_id)
    now = datetime.now(UTC)
    return render(request, "job_progress.html", {"job": job, "row": row(job, now), "now": now})


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, app: App, viewer: Viewer, job_id: int) -> Response:
    try:
        job = app.ops.jobs.retry(viewer, job_id)
    except JobStateError as exc:
        return redirect(request, f"/jobs/{job_id}", str(exc), "error")
    return redirect(request, f"/jobs/{job_id}", f"Job {job_id} retried: it is {job.state} now.")


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, app: App, viewer: Viewer, job_id: int) -> Response:
    try:
        job = app.ops.jobs.cancel(viewer, job_id)
    except JobStateError as exc:
        return redirect(request, f"/jobs/{job_id}", str(exc), "error")
    if job.state == JobState.RUNNING:
        message = f"Job {job_id} is running: its worker has been asked to stop it."
    else:
        message = f"Job {job_id} cancelled."
    return redirect(request, f"/jobs/{job_id}", message)


@router.post("/jobs/{job_id}/delete")
def delete_job(request: Request, app: App, viewer: Viewer, job_id: int) -> Response:
    try:
        app.ops.jobs.delete(viewer, job_id)
    except JobStateError as exc:
        return redirect(request, f"/jobs/{job_id}", str(exc), "error")
    return redirect(request, "/jobs", f"Job {job_id} deleted.")


@router.post("/jobs/{job_id}/copy")
def copy_job(request: Request, app: App, viewer: Viewer, job_id: int) -> Response:
    """Enqueue a new job with this one's type, arguments, queue, priority and org."""
    job = app.ops.jobs.visible(viewer, job_id)
    try:
        made = app.ops.jobs.enqueue(
            viewer, job.name, job.args, org_id=job.org_id, queue=job.queue, priority=job.priority
        )
    except InvalidInput as exc:
        return redirect(request, f"/jobs/{job_id}", f"Could not enqueue a copy: {exc}", "error")
    return redirect(
        request, f"/jobs/{made.job.id}", f"Enqueued job {made.job.id}, a copy of job {job_id}."
    )


# -- run now ----------------------------------------------------------------------------------
def _runnable(viewer: Actor, types: list[JobTypeInfo]) -> list[JobTypeInfo]:
    """The types this user may enqueue (the built-in kinds are for cluster admins)."""
    cluster_admin = viewer.can(Role.ADMIN) and viewer.org_id is None
    return [t for t in types if cluster_admin or not t.admin_only]


def _run_page(
    request: Request,
    viewer: Actor,
    types: list[JobTypeInfo],
    chosen: JobTypeInfo | None,
    fields: list[job_forms.ArgField],
    *,
    options: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "active": "/run",
        "types": types,
        "chosen": chosen,
        "fields": fields,
        "options": options or {},
        "error": error,
    }
    return render(request, "run.html", context, status=status)


@router.get("/run", response_class=HTMLResponse)
def run_form(request: Request, app: App, viewer: Viewer, type: str = "") -> HTMLResponse:
    """Pick a job type, then fill in its arguments."""
    viewer.require(Role.OPERATOR, "running a job")
    types = _runnable(viewer, app.ops.jobs.types(viewer))
    chosen = next((t for t in types if t.name == type), None)
    if type and chosen is None:
        return _run_page(
            request, viewer, types, None, [], error=f"No job type {type!r}.", status=404
        )
    fields = [] if chosen is None else job_forms.arg_fields(chosen)
    return _run_page(request, viewer, types, chosen, fields)


@router.post("/run", response_class=HTMLResponse)
async def run_submit(request: Request, app: App, viewer: Viewer) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    return await run(_enqueue_from_form, request, app, viewer, values)


def _enqueue_from_form(request: Request, app: App, viewer: Actor, form: dict[str, str]) -> Response:
    types = _runnable(viewer, app.ops.jobs.types(viewer))
    name = form.get("type", "")
    chosen = next((t for t in types if t.name == name), None)
    if chosen is None:
        return _run_page(
            request, viewer, types, None, [], error=f"No job type {name!r}.", status=400
        )
    args, fields = job_forms.read_args(job_forms.arg_fields(chosen), form)
    kept = {key: form.get(key, "") for key in ("queue", "priority", "delay", "org")}
    if any(f.error for f in fields):
        error = "Some arguments need another look (marked below)."
        return _run_page(
            request, viewer, types, chosen, fields, options=kept, error=error, status=400
        )
    try:
        options = job_forms.read_options(form)
        made = app.ops.jobs.enqueue(viewer, chosen.name, args, **options)
    except InvalidInput as exc:
        return _run_page(
            request, viewer, types, chosen, fields, options=kept, error=str(exc), status=400
        )
    return redirect(request, f"/jobs/{made.job.id}", f"Enqueued job {made.job.id} ({chosen.name}).")


# -- search -----------------------------------------------------------------------------------
@router.get("/search", response_class=HTMLResponse)
def search(request: Request, app: App, viewer: Viewer, q: str = "") -> Response:
    """A job id goes to its page; other text lists the newest jobs whose arguments hold it."""
    text = q.strip().removeprefix("#").strip()
    found: list[Job] = []
    error = None
    if text:
        try:
            found = app.ops.jobs.search(viewer, text)
        except InvalidInput as exc:
            error = str(exc)
        if text.isdigit() and found and found[0].id == int(text):
            return redirect(request, f"/jobs/{found[0].id}")
    context = {
        "active": "/jobs",
        "q": q,
        "rows": rows(found),
        "error": error,
        "searched": bool(text),
    }
    return render(request, "search.html", context, status=400 if error else 200)
