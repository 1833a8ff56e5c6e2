"""``schedules list|add|enable|disable|trigger|next|runs|delete``, and ``scheduler``
(``serve``, which runs the scheduler too, is in cli/web.py)."""

from __future__ import annotations

import json
import shlex
import signal
from datetime import UTC, datetime
from types import FrameType

import click
from rich.text import Text

from hourhand.cli.cron import parse_after, preview, warn_about_zone
from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, line, print_table, state_text, when
from hourhand.errors import InvalidArguments, InvalidInput
from hourhand.humanize import plural
from hourhand.ops import Run
from hourhand.ops.schedules import DEFAULT_RUNS, MAX_RUNS, run_cursor
from hourhand.schedule_model import MISFIRE_POLICIES, OVERLAP_POLICIES, Schedule, ScheduleNotFound
from hourhand.store import locate

pass_settings = click.make_pass_decorator(Settings)
org_option = click.option("--org", "org_id", help="The organisation (user schedules).")


def find(settings: Settings, name: str, org_id: str | None) -> Schedule:
    """A schedule by name (in --org), or by id. A name found only in other organisations
    (or only outside any) is an error that says where, and how to pick one."""
    ops = settings.ops()
    try:
        return ops.schedules.find(settings.actor, name, org_id)
    except ScheduleNotFound as exc:
        if name.isdigit():
            return ops.schedules.get(settings.actor, int(name))
        orgs = [o for o in exc.elsewhere if o is not None]
        if len(orgs) == 1:
            raise ScheduleNotFound(f"{exc}: pass --org {orgs[0]}") from None
        if orgs:
            raise ScheduleNotFound(f"{exc}: pass --org ORG, e.g. --org {orgs[0]}") from None
        if exc.elsewhere:
            raise ScheduleNotFound(f"{exc}: leave out --org") from None
        raise


SCHEDULE_COLUMNS = (
    Column("id", "right"),
    Column("name", wrap=True),
    Column("org"),
    Column("source"),
    Column("job", wrap=True),
    Column("cron"),
    Column("zone"),
    Column("on", wrap=True),
    Column("next (UTC)"),
    Column("last (UTC)"),
    Column("last status"),
)


def schedule_row(s: Schedule) -> list[Cell]:
    return [
        str(s.id),
        s.name,
        s.org_id or "-",
        s.source,
        s.job,
        s.cron,
        s.tz,
        enabled_text(s),
        when(s.next_fire_at),
        when(s.last_fire_at),
        s.last_status or "-",
    ]


def print_schedules(found: list[Schedule]) -> None:
    print_table(SCHEDULE_COLUMNS, [schedule_row(s) for s in found], plural(len(found), "schedule"))


def enabled_text(s: Schedule) -> str:
    """ "yes"/"no", and whether an operator's override decides it over the definition."""
    text = "yes" if s.enabled else "no"
    if s.enabled_override is not None:
        text += f" (operator; {s.source}: {'yes' if s.defined_enabled else 'no'})"
    return text


@cli.group()
def schedules() -> None:
    """Recurring schedules: from code, hourhand.toml, or users (per organisation)."""


@schedules.command("list")
@org_option
@click.option("--source", type=click.Choice(["code", "config", "user"]))
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_schedules(
    settings: Settings, org_id: str | None, source: str | None, as_json: bool
) -> None:
    """All schedules (or one organisation's)."""
    found = settings.ops().schedules.list(settings.actor, org_id=org_id, source=source)
    if as_json:
        echo_json([s.to_dict() for s in found])
    else:
        print_schedules(found)


@schedules.command("add")
@click.argument("name")
@click.option("--job", required=True, help="The job type to run.")
@click.option("--cron", "expr", required=True, help='e.g. "0 8 * * MON" or @daily.')
@click.option("--tz", default="UTC", show_default=True)
@click.option("--args", "args_json", default="{}", show_default=True, help="A JSON object.")
@org_option
@click.option("--created-by")
@click.option("--misfire", type=click.Choice(MISFIRE_POLICIES), default="skip", show_default=True)
@click.option("--overlap", type=click.Choice(OVERLAP_POLICIES), default="skip", show_default=True)
@click.option("--jitter", type=float, default=0.0, show_default=True, help="Seconds.")
@click.option("--queue")
@click.option("--disabled", is_flag=True, help="Add it paused.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def add(
    settings: Settings,
    name: str,
    job: str,
    expr: str,
    tz: str,
    args_json: str,
    org_id: str | None,
    created_by: str | None,
    misfire: str,
    overlap: str,
    jitter: float,
    queue: str | None,
    disabled: bool,
    as_json: bool,
) -> None:
    """Add a user schedule NAME that runs --job on --cron (your app must define the job)."""
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise InvalidArguments(f"--args is not valid JSON: {exc}") from None
    if not isinstance(args, dict):
        raise InvalidArguments(f"--args must be a JSON object, got {type(args).__name__}")
    ops = settings.app(required=True, create=True).ops
    schedule = ops.schedules.create(
        settings.actor,
        name,
        job,
        expr,
        tz=tz,
        args=args,
        org_id=org_id,
        created_by=created_by,
        enabled=not disabled,
        misfire=misfire,
        overlap=overlap,
        jitter=jitter,
        queue=queue,
    )
    warn_about_zone(schedule.tz)
    if as_json:
        echo_json(schedule.to_dict())
    else:
        click.echo(
            f"schedule {schedule.id} {schedule.name!r}: next run {when(schedule.next_fire_at)} UTC"
        )


@schedules.command("enable")
@click.argument("name")
@org_option
@pass_settings
def enable(settings: Settings, name: str, org_id: str | None) -> None:
    """Resume a schedule from now on (missed times are not caught up). On a code or config
    schedule this overrides the definition until `schedules reset`."""
    schedule = settings.ops().schedules.enable(settings.actor, find(settings, name, org_id).id)
    click.echo(
        f"schedule {schedule.name!r} enabled{override_note(schedule)}: "
        f"next run {when(schedule.next_fire_at)} UTC"
    )


@schedules.command("disable")
@click.argument("name")
@org_option
@pass_settings
def disable(settings: Settings, name: str, org_id: str | None) -> None:
    """Pause a schedule. On a code or config schedule this overrides the definition (a
    scheduler restart keeps it paused) until `schedules reset`."""
    schedule = settings.ops().schedules.disable(settings.actor, find(settings, name, org_id).id)
    click.echo(f"schedule {schedule.name!r} disabled{override_note(schedule)}")


@schedules.command("reset")
@click.argument("name")
@org_option
@pass_settings
def reset(settings: Settings, name: str, org_id: str | None) -> None:
    """Drop an operator's enable/disable: follow the code or config file again."""
    schedule = settings.ops().schedules.reset(settings.actor, find(settings, name, org_id).id)
    state = "enabled" if schedule.enabled else "disabled"
    click.echo(f"schedule {schedule.name!r} follows its {schedule.source} again: {state}")


def override_note(schedule: Schedule) -> str:
    if schedule.enabled_override is None:
        return ""
    defined = "enabled" if schedule.defined_enabled else "disabled"
    return f" (overrides its {schedule.source}, which says {defined})"


@schedules.command("trigger")
@click.argument("name")
@org_option
@pass_settings
def trigger(settings: Settings, name: str, org_id: str | None) -> None:
    """Run a schedule's job now (needs your app)."""
    ops = settings.app(required=True).ops
    job = ops.schedules.trigger(settings.actor, find(settings, name, org_id).id)
    click.echo(f"enqueued job {job.id}")


@schedules.command("delete")
@click.argument("name")
@org_option
@pass_settings
def delete(settings: Settings, name: str, org_id: str | None) -> None:
    """Delete a user schedule (code and config ones come back at the next sync)."""
    schedule = find(settings, name, org_id)
    settings.ops().schedules.delete(settings.actor, schedule.id)
    click.echo(f"schedule {schedule.name!r} deleted")


@schedules.command("next")
@click.argument("name")
@org_option
@click.option("--count", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--after", help="Start from this ISO-8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help='Print {"fires": [UTC ISO-8601, ...]}.')
@pass_settings
def next_fires(
    settings: Settings,
    name: str,
    org_id: str | None,
    count: int,
    after: str | None,
    as_json: bool,
) -> None:
    """The coming fire times of a schedule, in its zone and in UTC."""
    schedule = find(settings, name, org_id)
    start = parse_after(after) if after else None
    fires = settings.ops().schedules.next_fires(settings.actor, schedule.id, count, start)
    title = Text.assemble(
        (schedule.name, "bold"), f": {schedule.cron}  {schedule.parsed.describe()}"
    )
    preview(schedule.parsed, fires, as_json, title=title)


RUN_COLUMNS = (
    Column("fire time (UTC)"),
    Column("status"),
    Column("job", "right"),
    Column("state"),
    Column("due (UTC)"),
    Column("enqueued (UTC)"),
    Column("finished (UTC)"),
    Column("note", wrap=True),
)


def run_row(run: Run) -> list[Cell]:
    fire = run.fire
    notes = []
    if fire.unlisted:
        notes.append(f"and {plural(fire.unlisted, 'earlier fire time')} like it, not listed")
    if fire.status == "merged" and fire.job_id is not None:
        notes.append(f"folded into job {fire.job_id}")
    job = run.own_job
    if job is not None and job.error:
        notes.append(" ".join(job.error.split())[:60])
    return [
        when(fire.fire_time),
        fire.status,
        "-" if fire.job_id is None else str(fire.job_id),
        "-" if run.state is None else state_text(run.state),
        when(fire.due_at),
        when(fire.enqueued_at),
        when(fire.finished_at),
        "; ".join(notes) or "-",
    ]


def run_dict(run: Run) -> dict[str, object]:
    job = run.own_job
    return {**run.fire.to_dict(), "state": run.state, "error": None if job is None else job.error}


@schedules.command("runs")
@click.argument("name")
@org_option
@click.option("--limit", type=click.IntRange(1, MAX_RUNS), default=DEFAULT_RUNS, show_default=True)
@click.option("--before", help="Fire times before this ISO-8601 time (the next page).")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def runs(
    settings: Settings,
    name: str,
    org_id: str | None,
    limit: int,
    before: str | None,
    as_json: bool,
) -> None:
    """A schedule's ledger, newest first: each fire time (and each run made by hand), its
    job and the job's state, or why nothing ran (docs/schedules.md, "The ledger")."""
    schedule = find(settings, name, org_id)
    cursor = None if before is None else run_cursor(parse_before(before))
    page = settings.ops().schedules.runs(settings.actor, schedule.id, limit, cursor)
    if as_json:
        echo_json([run_dict(r) for r in page.runs])
        return
    title = f"{schedule.name}: {plural(len(page.runs), 'fire time')}"
    print_table(RUN_COLUMNS, [run_row(r) for r in page.runs], title)
    if page.next_cursor is not None:
        words = ["hourhand"]
        if settings.database and settings.database_source == "--database":
            words += ["--database", locate(settings.database).masked]
        words += ["schedules", "runs", str(schedule.id)]
        if limit != DEFAULT_RUNS:
            words += ["--limit", str(limit)]
        words += ["--before", page.runs[-1].fire.fire_time.isoformat()]
        line(f"next page: {shlex.join(words)}")


def parse_before(value: str) -> datetime:
    """An ISO-8601 time for --before; without an offset it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--before {value!r} is not an ISO-8601 time, e.g. 2026-03-29T00:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_config(settings: Settings, config: str | None, *, schedules: bool = True) -> None:
    """Read the config file (``config``, else HOURHAND_CONFIG, else ./hourhand.toml if
    there is one) into the app: all of it (``schedules``: a scheduler's, which checks every
    schedule's job type and arguments against the app), or its settings, channels and
    kinds only (a worker, the API, an enqueue: an app may register only some of the job
    types the file's schedules name)."""
    from hourhand.config import config_path

    path = config_path(config)
    if path is None:
        return
    if schedules:
        settings.app(required=True).load_config(path)
    else:
        settings.app().load_kinds(path)


@cli.command()
@click.option("--config", help="Schedules file (default: ./hourhand.toml if present).")
@click.option("--poll-interval", type=float, default=1.0, show_default=True)
@pass_settings
def scheduler(settings: Settings, config: str | None, poll_interval: float) -> None:
    """Enqueue the jobs of due schedules until SIGTERM or Ctrl-C (run as many as you like)."""
    settings.config = config
    app = settings.app(required=True, create=True)
    load_config(settings, config)
    sched = app.scheduler(poll_interval=poll_interval)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        sched.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sched.run()
