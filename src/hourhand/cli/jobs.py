"""``enqueue`` and ``jobs list|show|retry|cancel|types``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shlex
from datetime import datetime

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, line, print_jobs, print_table, show_job
from hourhand.cli.schedules import load_config
from hourhand.errors import InvalidArguments, InvalidInput
from hourhand.humanize import duration, plural
from hourhand.jobs import FINAL_STATES, EnqueueResult, Job, JobState
from hourhand.ops import JobQuery
from hourhand.store import locate

DEFAULT_LIMIT = 50  # jobs in one page
MAX_LIMIT = 10_000

pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.argument("name")
@click.option("--args", "args_json", default="{}", show_default=True, help="A JSON object.")
@click.option("--delay", type=float, help="Seconds to wait before it may run.")
@click.option(
    "--run-at", help="When it may run: ISO-8601 with an offset or Z, e.g. 2026-05-01T08:00:00Z."
)
@click.option("--timeout", type=float, help="Seconds an attempt may run (default: the job type's).")
@click.option("--queue", help="Queue (default: the job type's).")
@click.option("--priority", type=int, help="Higher runs first.")
@click.option("--org", "org_id", help="Organisation, for user jobs.")
@click.option("--created-by", help="User, for user jobs.")
@click.option("--unique-key", help="At most one waiting or running job with this key.")
@click.option("--max-attempts", type=int)
@click.option(
    "--wait",
    "wait_for",
    type=click.FloatRange(0, 24 * 3600),
    help="Seconds to wait for the job to finish, then print it with its result (a worker "
    "must be running). Exit code 0 if it completed, 1 if it failed or was cancelled, 124 if "
    "it was still unfinished.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"id": N, "created": true}.')
@click.option(
    "--config", help="Config file with custom kinds (default: ./hourhand.toml if present)."
)
@pass_settings
def enqueue(
    settings: Settings,
    name: str,
    args_json: str,
    delay: float | None,
    run_at: str | None,
    timeout: float | None,
    queue: str | None,
    priority: int | None,
    org_id: str | None,
    created_by: str | None,
    unique_key: str | None,
    max_attempts: int | None,
    wait_for: float | None,
    as_json: bool,
    config: str | None,
) -> None:
    """Add a job of type NAME (your app, from --app, must define it, or the config file
    as a custom kind; the built-in kinds are on every app).

    With --unique-key, a job of this type already waiting or running with that key is not
    duplicated: "already enqueued as job N", and this call's args and options are dropped."""
    settings.config = config
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise InvalidArguments(f"--args is not valid JSON: {exc}") from None
    if not isinstance(args, dict):
        raise InvalidArguments(f"--args must be a JSON object, got {type(args).__name__}")
    ops = settings.app(required=True, create=True).ops
    load_config(settings, config, schedules=False)
    enqueued = ops.jobs.enqueue(
        settings.actor,
        name,
        args,
        delay=delay,
        run_at=parse_instant("--run-at", run_at),
        timeout=timeout,
        queue=queue,
        priority=priority,
        org_id=org_id,
        created_by=created_by,
        unique_key=unique_key,
        max_attempts=max_attempts,
    )
    job_id = EnqueueResult(enqueued.job.id, enqueued.created)
    if wait_for is None:
        if as_json:
            echo_json({"id": int(job_id), "created": job_id.created})
        elif job_id.created:
            click.echo(f"enqueued job {job_id}")
        else:
            click.echo(f"already enqueued as job {job_id} (unique key {unique_key!r})")
        return
    if not as_json:
        said = "enqueued job" if job_id.created else "already enqueued as job"
        click.echo(f"{said} {job_id}; waiting up to {duration(wait_for)} for it to finish")
    job = asyncio.run(ops.jobs.wait(settings.actor, job_id, wait_for))
    if as_json:
        echo_json({**job.to_dict(), "created": job_id.created})
    else:
        click.echo(finished_text(job))
    if job.state != JobState.COMPLETED:
        raise SystemExit(1 if job.state in FINAL_STATES else UNFINISHED_EXIT)


UNFINISHED_EXIT = 124  # like timeout(1): the job had not finished when the wait ended


def finished_text(job: Job) -> str:
    """How a waited-for job ended: its result, its error, or that it has not finished."""
    if job.state == JobState.COMPLETED:
        took = ""
        if job.started_at is not None and job.finished_at is not None:
            took = f" in {duration((job.finished_at - job.started_at).total_seconds())}"
        return f"job {job.id} completed{took}; result: {json.dumps(job.result)}"
    if job.state in FINAL_STATES:
        return f"job {job.id} {job.state}: {job.error or 'no error recorded'}"
    return f"job {job.id} has not finished: it is {job.state}"


def parse_instant(option: str, value: str | None) -> datetime | None:
    """An ISO-8601 time with an offset (or Z); a time without one is refused, not guessed."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not an ISO-8601 time, e.g. 2026-05-01T08:00:00Z"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(
            f"{option} {value!r} has no offset: add one, e.g. {value}Z for UTC or {value}+02:00"
        )
    return when


@cli.group()
def jobs() -> None:
    """List, inspect, retry and cancel jobs."""


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]))
@click.option("--queue")
@click.option("--name", help="Job type.")
@click.option("--org", "org_id")
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True
)
@click.option("--after", "after_id", type=click.IntRange(1), help="Jobs older than job ID.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_jobs(
    settings: Settings,
    state: str | None,
    queue: str | None,
    name: str | None,
    org_id: str | None,
    limit: int,
    after_id: int | None,
    as_json: bool,
) -> None:
    """Jobs, newest first, a page at a time (--after ID: the page after job ID)."""
    query = JobQuery(
        state=JobState(state) if state else None,
        queue=queue,
        type=name,
        org_id=org_id,
        limit=limit,
        cursor=None if after_id is None else str(after_id),
    )
    found = settings.ops().jobs.list(settings.actor, query)
    page = found.jobs
    if as_json:
        echo_json([j.to_dict() for j in page])
        return
    print_jobs(page)
    if found.next_cursor is not None:
        filters = {"--state": state, "--queue": queue, "--name": name, "--org": org_id}
        line(f"next page: {next_page(settings, filters, limit, page[-1])}")
    elif after_id is not None:
        line("no more jobs")


def next_page(settings: Settings, filters: dict[str, str | None], limit: int, last: Job) -> str:
    """The command that lists the page after ``last``, with the same filters."""
    words = ["hourhand"]
    if settings.database and settings.database_source == "--database":
        words += ["--database", locate(settings.database).masked]
    words += ["jobs", "list"]
    for option, value in filters.items():
        if value is not None:
            words += [option, value]
    if limit != DEFAULT_LIMIT:
        words += ["--limit", str(limit)]
    words += ["--after", str(last.id)]
    return shlex.join(words)


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def show(settings: Settings, job_id: int, as_json: bool) -> None:
    """One job, its attempts, the last failure's traceback and the schedule that made it."""
    detail = settings.ops().jobs.get(settings.actor, job_id)
    job, attempts, schedule = detail.job, detail.attempts, detail.schedule
    if as_json:
        made_by = None
        if schedule is not None:
            made_by = {"id": schedule.id, "name": schedule.name, "org_id": schedule.org_id}
        echo_json(
            {**job.to_dict(), "schedule": made_by, "attempts": [a.to_dict() for a in attempts]}
        )
    else:
        show_job(job, attempts, schedule, detail.rate)


@jobs.command("retry")
@click.argument("job_id", type=int)
@pass_settings
def retry(settings: Settings, job_id: int) -> None:
    """Run a failed, cancelled or retrying job again now (one more attempt if it had none
    left), or a scheduled job now instead of later. Queued, running and completed jobs are
    refused."""
    job = settings.ops().jobs.retry(settings.actor, job_id)
    click.echo(f"job {job.id} is {job.state}")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@pass_settings
def cancel(settings: Settings, job_id: int) -> None:
    """Cancel a waiting job, or ask the worker running it to stop."""
    job = settings.ops().jobs.cancel(settings.actor, job_id)
    if job.state == JobState.RUNNING:
        click.echo(
            f"job {job.id} is running: its worker has been asked to stop it; that takes about "
            "a second (a sync handler stops when it next checks ctx.cancelled)"
        )
    else:
        click.echo(f"job {job.id} is {job.state}")


@jobs.command("types")
@click.option(
    "--config",
    help="Config file whose custom kinds to list too (default: HOURHAND_CONFIG or "
    "./hourhand.toml if present).",
)
@click.option("--json", "as_json", is_flag=True, help="With the JSON schema of each one's args.")
@pass_settings
def job_types(settings: Settings, config: str | None, as_json: bool) -> None:
    """The job types: the app's (with --app), the built-in kinds (hourhand.http,
    hourhand.sql, hourhand.email) and the config file's custom kinds, with their
    parameters ([name]: optional)."""
    settings.config = config
    load_config(settings, config, schedules=False)
    found = settings.ops().jobs.types(settings.actor)
    if as_json:
        echo_json([dataclasses.asdict(t) for t in found])
        return
    rows: list[list[Cell]] = [
        [
            t.name,
            t.queue,
            ", ".join(p["name"] if p["required"] else f"[{p['name']}]" for p in t.params) or "-",
            t.description or "",
        ]
        for t in found
    ]
    print_table(TYPE_COLUMNS, rows, plural(len(found), "job type"))


TYPE_COLUMNS = (
    Column("type"),
    Column("queue"),
    Column("parameters", wrap=True),
    Column("description", wrap=True),
)
