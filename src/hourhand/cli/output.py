"""Rendering for people (rich tables) and for programs (--json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hourhand.jobs import Attempt, Job, JobState
from hourhand.ratelimits import RateUse

STATE_STYLES = {
    "scheduled": "cyan",
    "queued": "blue",
    "running": "yellow",
    "retrying": "magenta",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
}

console = Console()


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def jobs_table(jobs: list[Job]) -> Table:
    table = Table(title=f"{len(jobs)} jobs", title_justify="left")
    for column in ("id", "type", "queue", "state", "attempt", "prio", "run at (UTC)", "error"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(
            str(job.id),
            Text(job.name),
            Text(job.queue),
            state_text(job.state),
            f"{job.attempt}/{job.max_attempts}",
            str(job.priority),
            when(job.run_at),
            Text((job.error or "")[:60]),
        )
    return table


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


def show_job(job: Job, attempts: list[Attempt], rate: RateUse | None = None) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("id", str(job.id)),
        ("type", Text(job.name)),
        ("queue", Text(job.queue)),
        ("state", state_text(job.state)),
        ("attempt", attempt_text(job)),
        ("priority", str(job.priority)),
        ("run at", when(job.run_at)),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("org", Text(job.org_id or "-")),
        ("created by", Text(job.created_by or "-")),
        ("unique key", Text(job.unique_key or "-")),
        ("timeout", "-" if job.timeout is None else f"{job.timeout:g}s"),
        ("args", Text(json.dumps(job.args))),
        ("progress", progress_text(job)),
        ("result", Text("-" if job.result is None else json.dumps(job.result))),
        ("error", Text(job.error or "-")),
    ]
    if job.cancel_requested:
        rows.append(("cancel", "requested"))
    if rate is not None:
        rows.append(("rate limit", Text(rate.describe(waiting=job.state == JobState.QUEUED))))
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    history = Table(title="attempts", title_justify="left")
    for column in ("#", "outcome", "worker", "started (UTC)", "duration", "error"):
        history.add_column(column, overflow="fold")
    for a in attempts:
        history.add_row(
            str(a.attempt) if a.outcome != "interrupted" else f"({a.attempt})",
            state_text(a.outcome),
            Text(a.worker_id or "-"),
            when(a.started_at),
            "-" if a.duration is None else f"{a.duration * 1000:.1f} ms",
            Text(a.error or ""),
        )
    console.print(history)
