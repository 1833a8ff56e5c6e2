"""Jobs, as operators see them: list and search, show with attempts, enqueue, retry,
cancel, delete, and bulk retry/cancel/delete over a filter (redriving the dead-letter set)."""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hourhand import checks
from hourhand.errors import Forbidden, InvalidInput, JobNotFound, JobStateError
from hourhand.jobs import FINAL_STATES, Attempt, Job, JobSpec, JobState
from hourhand.ops.actor import Actor, Role
from hourhand.ops.retention import check_cluster_job
from hourhand.ratelimits import RateUse
from hourhand.schedule_model import Schedule
from hourhand.store import JobFilter
from hourhand.store.listing import MAX_COUNT

if TYPE_CHECKING:
    from hourhand.ops import Operations

DEFAULT_PAGE = 50
MAX_PAGE = 10_000
MAX_BULK = 10_000  # jobs one bulk action changes; more: run it again
BULK_SAMPLE = 10  # jobs a dry run shows
BULK_PAGE = 500
SEARCH_WINDOW = 100_000  # a text search looks at this many of the newest jobs
RETRYABLE = (JobState.FAILED, JobState.CANCELLED, JobState.RETRYING, JobState.SCHEDULED)
CANCELLABLE = (JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING, JobState.RUNNING)


@dataclass(frozen=True)
class JobQuery:
    """What to list: every field is optional; ``cursor`` continues a previous page."""

    state: JobState | None = None
    queue: str | None = None
    type: str | None = None
    org_id: str | None = None
    schedule_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    error: str | None = None  # text in the last error
    error_class: str | None = None  # the exception class of the last error
    limit: int = DEFAULT_PAGE
    cursor: str | None = None

    def checked(self) -> JobQuery:
        """This query with its values checked (InvalidInput names a bad one)."""
        if self.state is not None:
            try:
                object.__setattr__(self, "state", JobState(self.state))
            except ValueError:
                states = ", ".join(s.value for s in JobState)
                raise InvalidInput(f"unknown state {self.state!r} (one of: {states})") from None
        checks.integer("limit", self.limit, 1, MAX_PAGE)
        for what, value in (("queue", self.queue), ("type", self.type), ("org", self.org_id)):
            if value is not None:
                checks.text(what, value)
        for what, value in (("error", self.error), ("error_class", self.error_class)):
            if value is not None:
                checks.text(what, value, max_length=1000)
        if self.schedule_id is not None:
            checks.integer("schedule", self.schedule_id, 1, checks.MAX_ID)
        times = (("created_after", self.created_after), ("created_before", self.created_before))
        for what, when in times:
            if when is not None and when.utcoffset() is None:
                raise InvalidInput(f"{what} needs a time zone offset (e.g. Z)")
        before_cursor(self.cursor)
        return self


def before_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues below (InvalidInput for a cursor no page gave out)."""
    if cursor is None:
        return None
    if not cursor.isdigit() or not 1 <= int(cursor) <= checks.MAX_ID:
        raise InvalidInput(f"bad cursor {cursor!r}: use the next_cursor of a previous page")
    return int(cursor)


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class Enqueued:
    job: Job
    created: bool  # False: a job with the unique key was waiting or running; this is it


@dataclass(frozen=True)
class JobDetail:
    job: Job
    attempts: list[Attempt]  # oldest first
    schedule: Schedule | None = None  # the schedule that made it (None: none, or deleted)
    rate: RateUse | None = None  # its type's rate limit use now, if it has one


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action matched and did (a dry run changes nothing)."""

    action: str  # "retry", "cancel" or "delete"
    matched: int  # jobs matching the filter (at most listing.MAX_COUNT + 1)
    changed: int  # jobs this call changed (0 in a dry run)
    dry_run: bool
    sample: list[Job] = field(default_factory=list)  # the newest matching jobs
    job_ids: list[int] = field(default_factory=list)  # the jobs changed
    remaining: int = 0  # matched but beyond this call's limit: run it again
    rate: float | None = None  # jobs requeued per second (retry)

    @property
    def matched_text(self) -> str:
        return f"more than {MAX_COUNT:,}" if self.matched > MAX_COUNT else f"{self.matched:,}"


@dataclass(frozen=True)
class JobTypeInfo:
    """A registered job type: its options and its parameters (what a "run now" form
    needs)."""

    name: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    concurrency: int | None
    rate_limit: str | None
    retry: str
    params: list[dict[str, Any]]
    description: str | None = None  # the handler's docstring, first paragraph
    schema: dict[str, Any] = field(default_factory=dict)  # JSON schema of the arguments
    admin_only: bool = False  # enqueued and scheduled through ops by cluster admins only


class JobOps:
    """The job operations. Every method takes the acting :class:`Actor` first: an
    organisation's actor sees and touches only its organisation's jobs (another's ids are
    not found), viewers only read."""

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    # -- reads ----------------------------------------------------------------------------
    def get(self, actor: Actor, job_id: int) -> JobDetail:
        """A job with its attempts, oldest first."""
        job = self.visible(actor, job_id)
        return JobDetail(
            job,
            self.app.store.list_attempts(job.id),
            self.app.schedules.of_job(job),
            self.app.rate_use(job.name),
        )

    def visible(self, actor: Actor, job_id: int) -> Job:
        """The job, if it exists and the actor may see it; JobNotFound otherwise (the
        same answer for another organisation's job as for none)."""
        job = self.app.get_job(job_id)
        if not actor.sees(job.org_id):
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def search(self, actor: Actor, text: str, limit: int = DEFAULT_PAGE) -> list[Job]:
        """A job by id (a number), or jobs whose args or last error contain the text
        (case-insensitive), newest first, among the newest SEARCH_WINDOW jobs (so a search
        stays fast on any history)."""
        text = checks.text("search", text, max_length=200).strip()
        checks.integer("limit", limit, 1, MAX_PAGE)
        if text.isdigit() and 1 <= int(text) <= checks.MAX_ID:
            try:
                return [self.visible(actor, int(text))]
            except JobNotFound:
                pass
        newest = self.app.store.list_jobs(JobFilter(limit=1))
        if not newest:
            return []
        window = JobFilter(
            org_id=actor.org_id, limit=limit, min_id=max(1, newest[0].id - SEARCH_WINDOW + 1)
        )
        found = {j.id: j for j in self.app.store.list_jobs(replace(window, args_text=text))}
        for job in self.app.store.list_jobs(replace(window, error=text)):
            found.setdefault(job.id, job)
        return sorted(found.values(), key=lambda j: j.id, reverse=True)[:limit]

    def types(self, actor: Actor) -> list[JobTypeInfo]:
        """The registered job types with their options and parameters; an organisation's
        actor does not see hourhand's own kinds (admin-only, never an organisation's)."""
        infos = [_type_info(spec) for _, spec in sorted(self.app.registry.items())]
        return [t for t in infos if actor.org_id is None or not t.admin_only]

    # -- actions --------------------------------------------------------------------------
    def enqueue(
        self,
        actor: Actor,
        type: str,
        args: Mapping[str, Any] | None = None,
        *,
        org_id: str | None = None,
        **options: Any,
    ) -> Enqueued:
        """Add a job (options as ``hh.enqueue`` takes them). An organisation's actor
        enqueues into its own organisation; naming another is not found. ``created``
        False: a waiting or running job held the ``unique_key``, and that job is returned."""
        actor.require(Role.OPERATOR, "enqueueing a job")
        may_use_type(actor, self.app.spec(type), "enqueueing")
        org_id = self._own_org(actor, org_id)
        check_cluster_job(actor, type, org_id)
        result = self.app.enqueue(type, args, org_id=org_id, **options)
        job = self.app.get_job(result.id)
        if result.created:
            self.ops.record(actor, "job.enqueue", "job", job.id, job.org_id, {"type": type})
        return Enqueued(job, result.created)

    def retry(self, actor: Actor, job_id: int) -> Job:
        actor.require(Role.OPERATOR, "retrying a job")
        job = self.visible(actor, job_id)
        after = self.app.retry(job.id)
        self.ops.record(actor, "job.retry", "job", job.id, job.org_id, {"from": str(job.state)})
        return after

    def cancel(self, actor: Actor, job_id: int) -> Job:
        actor.require(Role.OPERATOR, "cancelling a job")
        job = self.visible(actor, job_id)
        after = self.app.cancel(job.id)
        self.ops.record(actor, "job.cancel", "job", job.id, job.org_id, {"from": str(job.state)})
        return after

    def delete(self, actor: Actor, job_id: int) -> None:
        """Delete a finished job (completed, failed or cancelled) with its attempts. A
        waiting or running one must be cancelled first (which also releases a schedule's
        run held behind it)."""
        actor.require(Role.OPERATOR, "deleting a job")
        job = self.visible(actor, job_id)
        if job.state not in FINAL_STATES or not self.app.store.delete_job(job.id):
            now = self.visible(actor, job_id)  # JobNotFound if it went meanwhile
            raise JobStateError(f"job {job.id} is {now.state}: cancel it first, then delete it")
        self.ops.record(actor, "job.delete", "job", job.id, job.org_id, {"state": str(job.state)})

    async def wait(self, actor: Actor, job_id: int, seconds: float) -> Job:
        """The job once it has finished, or as it is when ``seconds`` have passed."""
        await asyncio.to_thread(self.visible, actor, job_id)  # (a database read)
        return await self.app.wait_async(job_id, seconds)

    def bulk_retry(
        self,
        actor: Actor,
        query: JobQuery,
        *,
        dry_run: bool = False,
        rate: float | None = None,
        limit: int = MAX_BULK,
    ) -> BulkResult:
        """Retry every job matching the query (its state: failed, the dead-letter set,
        unless it says cancelled, retrying or scheduled). ``rate``: at most this many
        jobs become ready per second (the rest wait their turn, scheduled), so a redrive
        does not flood the workers or what the jobs call."""
        query = replace(query, state=query.state or JobState.FAILED).checked()
        if query.state not in RETRYABLE:
            raise InvalidInput(
                f"only {', '.join(RETRYABLE)} jobs can be retried, not {query.state} ones"
            )
        if rate is not None:
            checks.number("rate", rate, 0.001, 1_000_000.0)
        return self._bulk(actor, "retry", query, dry_run, limit, rate)

    def bulk_cancel(
        self, actor: Actor, query: JobQuery, *, dry_run: bool = False, limit: int = MAX_BULK
    ) -> BulkResult:
        """Cancel every job matching the query; its state must be given (scheduled,
        queued, retrying or running: running jobs are asked to stop)."""
        query = query.checked()
        if query.state not in CANCELLABLE:
            raise InvalidInput(f"say which jobs to cancel with a state: {', '.join(CANCELLABLE)}")
        return self._bulk(actor, "cancel", query, dry_run, limit, None)

    def bulk_delete(
        self, actor: Actor, query: JobQuery, *, dry_run: bool = False, limit: int = MAX_BULK
    ) -> BulkResult:
        """Delete every job matching the query with its attempts; its state must be given
        and finished (completed, failed or cancelled)."""
        query = query.checked()
        if query.state not in FINAL_STATES:
            finished = ", ".join(sorted(FINAL_STATES))
            raise InvalidInput(f"say which jobs to delete with a finished state: {finished}")
        return self._bulk(actor, "delete", query, dry_run, limit, None)

    # -- helpers --------------------------------------------------------------------------
    def _bulk(
        self,
        actor: Actor,
        action: str,
        query: JobQuery,
        dry_run: bool,
        limit: int,
        rate: float | None,
    ) -> BulkResult:
        if not dry_run:
            actor.require(Role.OPERATOR, f"bulk {action}")
        checks.integer("limit", limit, 1, MAX_BULK)
        flt = self._filter(actor, replace(query, cursor=None))
        if flt is None:
            return BulkResult(action, 0, 0, dry_run, rate=rate)
        store = self.app.store
        matched = store.count_jobs(flt)
        sample = store.list_jobs(replace(flt, limit=BULK_SAMPLE))
        if dry_run:
            return BulkResult(action, matched, 0, True, sample, rate=rate)
        changed: list[int] = []
        before: int | None = None
        while len(changed) < limit:
            page = store.list_jobs(
                replace(flt, limit=min(BULK_PAGE, limit - len(changed)), before_id=before)
            )
            if not page:
                break
            for job in page:
                if self._apply(action, job, len(changed), rate):
                    changed.append(job.id)
            before = page[-1].id
        self.ops.record(
            actor,
            f"job.bulk_{action}",
            "jobs",
            None,
            actor.org_id,
            {"filter": _query_details(query), "changed": len(changed), "rate": rate},
        )
        return BulkResult(
            action,
            matched,
            len(changed),
            False,
            sample,
            changed,
            remaining=max(0, matched - len(changed)) if len(changed) >= limit else 0,
            rate=rate,
        )

    def _apply(self, action: str, job: Job, index: int, rate: float | None) -> bool:
        """Retry, cancel or delete one job of a bulk action; False if it changed state
        meanwhile."""
        try:
            if action == "retry":
                delay = index / rate if rate else 0.0
                return self.app.store.retry_job(job.id, delay, expect=job.state) is not None
            if action == "delete":
                return self.app.store.delete_job(job.id)
            self.app.cancel(job.id)
            return True
        except (JobStateError, JobNotFound):
            return False

    def _filter(self, actor: Actor, query: JobQuery) -> JobFilter | None:
        """The store filter for a query in the actor's scope; None: nothing can match (an
        organisation's actor asking for another organisation)."""
        if actor.asks_elsewhere(query.org_id):
            return None
        return JobFilter(
            state=query.state,
            queue=query.queue,
            name=query.type,
            org_id=actor.scope(query.org_id),
            limit=query.limit,
            before_id=before_cursor(query.cursor),
            schedule_id=query.schedule_id,
            created_after=query.created_after,
            created_before=query.created_before,
            error=query.error,
            error_class=query.error_class,
        )

    def _own_org(self, actor: Actor, org_id: str | None) -> str | None:
        if actor.org_id is None:
            return org_id
        if org_id not in (None, actor.org_id):
            raise JobNotFound(f"no organisation {org_id!r}")
        return actor.org_id

    # last: inside the class, later annotations would take ``list`` for this method
    def list(self, actor: Actor, query: JobQuery | None = None) -> JobPage:
        """Jobs matching the query, newest first, one page at a time."""
        query = (query or JobQuery()).checked()
        flt = self._filter(actor, query)
        if flt is None:
            return JobPage([], None)
        jobs = self.app.store.list_jobs(replace(flt, limit=query.limit + 1))
        more = len(jobs) > query.limit
        jobs = jobs[: query.limit]
        return JobPage(jobs, str(jobs[-1].id) if more and jobs else None)


def may_use_type(actor: Actor, spec: JobSpec, action: str) -> None:
    """Forbidden unless the actor may enqueue or schedule jobs of this type: the built-in
    kinds reach any URL, database or address, so only cluster admins use them here (custom
    kinds, presets of them, are how others get a safe part of what they do); so do an
    app's system jobs (``hh.job(..., admin_only=True)``)."""
    if spec.admin_only and (not actor.can(Role.ADMIN) or actor.org_id is not None):
        hint = (
            "; custom kinds ([kinds.NAME] in hourhand.toml) are how others run presets of it"
            if spec.name.startswith("hourhand.")
            else ": it is one of the app's system jobs"
        )
        raise Forbidden(
            f"{action} {spec.name} jobs needs a cluster admin (the admin role, outside any "
            f"organisation){hint}"
        )


def _query_details(query: JobQuery) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in query.__dict__.items():
        if value is None or key in ("limit", "cursor"):
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else str(value)
    return out


def _type_info(spec: JobSpec) -> JobTypeInfo:
    schema = spec.types.schema()
    params = []
    for param in list(spec.signature.parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = param.annotation
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        type_name = (
            None
            if annotation is inspect.Parameter.empty
            else getattr(annotation, "__name__", None) or str(annotation)
        )
        entry: dict[str, Any] = {
            "name": param.name,
            "type": type_name,
            "required": param.default is inspect.Parameter.empty,
        }
        if param.default is not inspect.Parameter.empty:
            entry["default"] = _json_or_text(param.default)
        description = _description(schema["properties"].get(param.name, {}))
        if description:
            entry["description"] = description
        params.append(entry)
    return JobTypeInfo(
        name=spec.name,
        queue=spec.queue,
        priority=spec.priority,
        max_attempts=spec.max_attempts,
        timeout=spec.timeout,
        concurrency=spec.concurrency,
        rate_limit=None if spec.rate_limit is None else str(spec.rate_limit),
        retry=spec.retry.describe(),
        params=params,
        description=_first_paragraph(inspect.getdoc(spec.handler)),
        schema=schema,
        admin_only=spec.admin_only,
    )


def _description(prop: dict[str, Any]) -> str | None:
    """A property's description, also where it is one branch's (``X | None``)."""
    found = prop.get("description")
    for branch in prop.get("anyOf", []) if found is None else []:
        found = found or branch.get("description")
    return found if isinstance(found, str) else None


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    return " ".join(doc.strip().split("\n\n")[0].split())


def _json_or_text(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
