"""``enqueue`` and ``jobs list|show|retry|cancel``."""

from __future__ import annotations

import json

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import console, echo_json, jobs_table, show_job
from hourhand.errors import InvalidArguments
from hourhand.jobs import JobState

pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.argument("name")
@click.option("--args", "args_json", default="{}", show_default=True, help="A JSON object.")
@click.option("--delay", type=float, help="Seconds to wait before it may run.")
@click.option("--queue", help="Queue (default: the job type's).")
@click.option("--priority", type=int, help="Higher runs first.")
@click.option("--org", "org_id", help="Organisation, for user jobs.")
@click.option("--created-by", help="User, for user jobs.")
@click.option("--unique-key", help="At most one waiting or running job with this key.")
@click.option("--max-attempts", type=int)
@click.option("--json", "as_json", is_flag=True, help='Print {"id": N}.')
@pass_settings
def enqueue(
    settings: Settings,
    name: str,
    args_json: str,
    delay: float | None,
    queue: str | None,
    priority: int | None,
    org_id: str | None,
    created_by: str | None,
    unique_key: str | None,
    max_attempts: int | None,
    as_json: bool,
) -> None:
    """Add a job of type NAME (your app, from --app, must define it)."""
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise InvalidArguments(f"--args is not valid JSON: {exc}") from None
    if not isinstance(args, dict):
        raise InvalidArguments(f"--args must be a JSON object, got {type(args).__name__}")
    app = settings.app(required=True)
    job_id = app.enqueue(
        name,
        args,
        delay=delay,
        queue=queue,
        priority=priority,
        org_id=org_id,
        created_by=created_by,
        unique_key=unique_key,
        max_attempts=max_attempts,
    )
    if as_json:
        echo_json({"id": job_id})
    else:
        click.echo(f"enqueued job {job_id}")


@cli.group()
def jobs() -> None:
    """List, inspect, retry and cancel jobs."""


@jobs.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]))
@click.option("--queue")
@click.option("--name", help="Job type.")
@click.option("--org", "org_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_jobs(
    settings: Settings,
    state: str | None,
    queue: str | None,
    name: str | None,
    org_id: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Jobs, newest first."""
    found = settings.app().list_jobs(
        state=state, queue=queue, name=name, org_id=org_id, limit=limit
    )
    if as_json:
        echo_json([j.to_dict() for j in found])
    else:
        console.print(jobs_table(found))


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def show(settings: Settings, job_id: int, as_json: bool) -> None:
    """One job and its attempts."""
    app = settings.app()
    job = app.get_job(job_id)
    attempts = app.attempts(job_id)
    rate = app.rate_use(job.name)
    if as_json:
        echo_json({**job.to_dict(), "attempts": [a.to_dict() for a in attempts]})
    else:
        show_job(job, attempts, rate)


@jobs.command("retry")
@click.argument("job_id", type=int)
@pass_settings
def retry(settings: Settings, job_id: int) -> None:
    """Run a failed or cancelled job again, now."""
    job = settings.app().retry(job_id)
    click.echo(f"job {job.id} is {job.state}")


@jobs.command("cancel")
@click.argument("job_id", type=int)
@pass_settings
def cancel(settings: Settings, job_id: int) -> None:
    """Cancel a waiting job, or ask the worker running it to stop."""
    job = settings.app().cancel(job_id)
    if job.state == JobState.RUNNING:
        click.echo(f"job {job.id} is running: its worker has been asked to stop it")
    else:
        click.echo(f"job {job.id} is {job.state}")
