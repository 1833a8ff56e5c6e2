"""``demo``: the example app's jobs flowing through a worker, on SQLite."""

from __future__ import annotations

import logging
import shutil
import threading
import time

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import STATE_STYLES, console, jobs_table
from hourhand.cli.schedules import print_schedules
from hourhand.demo import (
    DEMO_DATABASE,
    build_app,
    enqueue_demo_jobs,
    ensure_demo_schedules,
)
from hourhand.jobs import WAITING_STATES, JobState

pass_settings = click.make_pass_decorator(Settings)

REFRESH = 0.25  # seconds between screen updates
MAX_WAIT = 120.0  # seconds before the demo gives up waiting


def counts_table(counts: dict[str, int]) -> Table:
    table = Table(title="jobs by state", title_justify="left")
    for state in JobState:
        table.add_column(state.value, style=STATE_STYLES[state.value], justify="right")
    table.add_row(*(str(counts.get(s.value, 0)) for s in JobState))
    return table


@cli.command()
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="How many batches of demo jobs to run.",
)
@pass_settings
def demo(settings: Settings, rounds: int) -> None:
    """Run an example app on SQLite and watch its jobs flow in the terminal
    (hourhand-demo.db). The demo with a dashboard: bash scripts/demo.sh."""
    hh = build_app(settings.database or DEMO_DATABASE)
    quiet = logging.getLogger("hourhand")
    if quiet.getEffectiveLevel() < logging.WARNING:
        quiet.setLevel(logging.WARNING)  # log lines would tear the live table
    try:
        console.print(f"[bold]hourhand demo[/] on {hh.database_url}")
        ensure_demo_schedules(hh)
        worker = hh.worker(concurrency=8, poll_interval=0.5, grace=5)
        thread = threading.Thread(target=worker.run, kwargs={"install_signals": False})
        thread.start()
        try:
            with Live(console=console, refresh_per_second=8) as live:
                for _ in range(rounds):
                    ids = set(enqueue_demo_jobs(hh))
                    deadline = time.monotonic() + MAX_WAIT
                    while time.monotonic() < deadline:
                        recent = [j for j in hh.list_jobs(limit=len(ids)) if j.id in ids]
                        live.update(Group(counts_table(hh.counts()), jobs_table(recent)))
                        if not any(
                            j.state in WAITING_STATES or j.state == JobState.RUNNING for j in recent
                        ):
                            break
                        time.sleep(REFRESH)
        finally:
            worker.stop()
            thread.join()
        print_schedules(hh.schedules.list())
        command = "hourhand" if shutil.which("hourhand") else ".venv/bin/hourhand"
        click.echo(
            f"Done. Look closer:\n  {command} --database {hh.database_url} jobs list\n"
            f"  {command} --database {hh.database_url} jobs list --state failed\n"
            f"  {command} --database {hh.database_url} jobs show 10\n"
            f"  {command} --database {hh.database_url} schedules next weekly-report --org org_demo"
        )
    finally:
        hh.close()
