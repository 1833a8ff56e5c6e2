"""Rendering for people and for programs (--json).

On a terminal, tables are rich tables that fit its width. When stdout is not a terminal (a
pipe, a file), the same tables come out plain: a header and one line per row, columns
aligned with spaces, nothing wrapped or cut, no colour. Durations and counts are written by
:mod:`hourhand.humanize` ("850 ms", "10.0 s", "1 job").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hourhand.humanize import duration, plural
from hourhand.jobs import Attempt, Job, JobState
from hourhand.ratelimits import RateUse
from hourhand.schedule_model import Schedule

STATE_STYLES = {
    "scheduled": "cyan",
    "queued": "blue",
    "running": "yellow",
    "retrying": "magenta",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
}
ERROR_PREVIEW = 60  # characters of a job's error in a listing

console = Console()

Cell = str | Text


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"
    wrap: bool = False  # on a terminal, may fold over lines (else: cut with an ellipsis)


def is_terminal() -> bool:
    return console.is_terminal


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def line(text: Cell = "", *, style: str = "") -> None:
    """One line of text: styled on a terminal, plain (and never wrapped) otherwise."""
    if is_terminal():
        console.print(text if isinstance(text, Text) else Text(text, style=style))
    else:
        click.echo(_plain(text))


def rich_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str = "") -> Table:
    # Light lines (no side borders) leave the width to the data.
    table = Table(
        title=title or None,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    for column in columns:
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
        )
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return table


def plain_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, header: bool = True
) -> list[str]:
    """Aligned columns, one line per row (no trailing spaces)."""
    body = [[_plain(cell) or "-" for cell in row] for row in rows]
    lines = ([[c.header for c in columns]] if header else []) + body
    if not lines:
        return []
    widths = [max(len(row[i]) for row in lines) for i in range(len(columns))]
    out = []
    for row in lines:
        cells = [
            cell.rjust(width) if column.justify == "right" else cell.ljust(width)
            for cell, width, column in zip(row, widths, columns, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str = "") -> None:
    if is_terminal():
        console.print(rich_table(columns, rows, title))
        return
    if title:
        click.echo(title)
    for text in plain_table(columns, rows):
        click.echo(text)


def print_fields(rows: Sequence[tuple[str, Cell]]) -> None:
    """Names and values, one pair a line (``jobs show``, ``info``)."""
    if is_terminal():
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for key, value in rows:
            grid.add_row(key, value if isinstance(value, Text) else Text(value))
        console.print(grid)
        return
    columns = (Column("name"), Column("value"))
    for text in plain_table(columns, [(k, v) for k, v in rows], header=False):
        click.echo(text)


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.split()) if ("\n" in text or "\t" in text) else text


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


# -- jobs --------------------------------------------------------------------------------

JOB_COLUMNS = (
    Column("id", "right"),
    Column("type", wrap=True),
    Column("queue", wrap=True),
    Column("state"),
    Column("attempt", "right"),
    Column("prio", "right"),
    Column("run at (UTC)"),
    Column("error", wrap=True),
)


def job_row(job: Job) -> list[Cell]:
    return [
        str(job.id),
        job.name,
        job.queue,
        state_text(job.state),
        f"{job.attempt}/{job.max_attempts}",
        str(job.priority),
        when(job.run_at),
        " ".join((job.error or "").split())[:ERROR_PREVIEW],
    ]


def jobs_table(jobs: list[Job]) -> Table:
    """A rich table of jobs (the demo's live view)."""
    return rich_table(JOB_COLUMNS, [job_row(j) for j in jobs], plural(len(jobs), "job"))


def print_jobs(jobs: list[Job], title: str = "") -> None:
    print_table(JOB_COLUMNS, [job_row(j) for j in jobs], title or plural(len(jobs), "job"))


def attempt_text(job: Job) -> str:
    """ "2 of 5", and the hand-backs (attempts interrupted by a shutdown, not counted)."""
    text = f"{job.attempt} of {job.max_attempts}"
    if job.handbacks:
        text += f" (and {job.handbacks} handed back at shutdown, not counted)"
    return text


def progress_text(job: Job) -> Text:
    if job.progress is None:
        return Text("-")
    return Text(f"{job.progress:g}% {job.progress_message or ''}".strip())


def schedule_text(job: Job, schedule: Schedule | None) -> str:
    """Which schedule made the job, and for which fire time (or that it was triggered)."""
    if job.schedule_id is None:
        return "-"
    if schedule is None:
        made = f"schedule {job.schedule_id} (deleted since)"
    else:
        org = f" (org {schedule.org_id})" if schedule.org_id else ""
        made = f"{schedule.name}{org}, id {schedule.id}"
    if job.fire_time is None:
        return f"{made}: triggered by hand"
    return f"{made}: fire time {when(job.fire_time)} UTC"


def last_failure(attempts: list[Attempt]) -> Attempt | None:
    """The latest attempt that left a traceback."""
    return next((a for a in reversed(attempts) if a.traceback), None)


ATTEMPT_COLUMNS = (
    Column("#", "right"),
    Column("outcome"),
    Column("worker", wrap=True),
    Column("started (UTC)"),
    Column("duration", "right"),
    Column("error", wrap=True),
)


def show_job(
    job: Job,
    attempts: list[Attempt],
    schedule: Schedule | None = None,
    rate: RateUse | None = None,
) -> None:
    rows: list[tuple[str, Cell]] = [
        ("id", str(job.id)),
        ("type", job.name),
        ("queue", job.queue),
        ("state", state_text(job.state)),
        ("attempt", attempt_text(job)),
        ("priority", str(job.priority)),
        ("run at", when(job.run_at)),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("org", job.org_id or "-"),
        ("created by", job.created_by or "-"),
        ("schedule", schedule_text(job, schedule)),
        ("unique key", job.unique_key or "-"),
        ("timeout", duration(job.timeout)),
        ("args", json.dumps(job.args)),
        ("progress", progress_text(job)),
        ("result", "-" if job.result is None else json.dumps(job.result)),
        ("error", job.error or "-"),
    ]
    if job.cancel_requested:
        rows.append(("cancel", "requested"))
    if rate is not None:
        rows.append(("rate limit", rate.describe(waiting=job.state == JobState.QUEUED)))
    print_fields(rows)
    line()
    print_table(
        ATTEMPT_COLUMNS,
        [
            [
                str(a.attempt) if a.outcome != "interrupted" else f"({a.attempt})",
                state_text(a.outcome),
                a.worker_id or "-",
                when(a.started_at),
                duration(a.duration),
                a.error or "",
            ]
            for a in attempts
        ],
        title=plural(len(attempts), "attempt"),
    )
    failed = last_failure(attempts)
    if failed is not None and failed.traceback:
        line()
        line(f"traceback of attempt {failed.attempt} ({failed.outcome}):", style="bold")
        click.echo(failed.traceback.rstrip())  # as written: never wrapped, never styled
