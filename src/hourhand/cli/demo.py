"""``demo``: the example app's jobs flowing through a worker, on SQLite."""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import threading
import time

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table

from hourhand.app import Hourhand
from hourhand.cli.main import Settings, cli
from hourhand.cli.output import STATE_STYLES, console, jobs_table
from hourhand.cli.schedules import print_schedules
from hourhand.cli.web import Part, supervise, web_part
from hourhand.demo import (
    DEMO_DATABASE,
    build_app,
    enqueue_demo_jobs,
    ensure_demo_schedules,
    ensure_demo_user,
)
from hourhand.jobs import WAITING_STATES, JobState

pass_settings = click.make_pass_decorator(Settings)

REFRESH = 0.25  # seconds between screen updates
MAX_WAIT = 120.0  # seconds before the demo gives up waiting
PRODUCE_EVERY = 4.0  # seconds between batches of demo jobs with --serve


def counts_table(counts: dict[str, int]) -> Table:
    table = Table(title="jobs by state", title_justify="left")
    for state in JobState:
        table.add_column(state.value, style=STATE_STYLES[state.value], justify="right")
    table.add_row(*(str(counts.get(s.value, 0)) for s in JobState))
    return table


@cli.command()
@click.option(
    "--serve",
    "serving",
    is_flag=True,
    help="Serve the dashboard and the API too, and keep making work until Ctrl-C.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="With --serve."
)
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="How many batches of demo jobs to run.",
)
@pass_settings
def demo(settings: Settings, serving: bool, host: str, port: int, rounds: int) -> None:
    """Run an example app on SQLite and watch its jobs flow (hourhand-demo.db); with
    --serve, with its dashboard, until Ctrl-C."""
    hh = build_app(settings.database or DEMO_DATABASE)
    if serving:
        try:
            serve_demo(hh, host, port)
        finally:
            hh.close()
        return
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


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):  # a name that does not resolve: not known to be local
        return False


def serve_demo(hh: Hourhand, host: str, port: int) -> None:
    """The demo app's worker, scheduler, dashboard and API in this process, and a thread
    that enqueues a batch of demo jobs every few seconds so the charts move."""
    ensure_demo_schedules(hh)
    user, password = ensure_demo_user(hh)
    worker = hh.worker(concurrency=8, poll_interval=0.5, grace=5)
    scheduler = hh.scheduler()
    producing = threading.Event()

    def produce() -> None:
        while not producing.wait(PRODUCE_EVERY):
            try:
                enqueue_demo_jobs(hh)
            except Exception:  # the demo goes on; the log says why
                logging.getLogger(__name__).exception("demo: enqueueing failed")

    parts = [
        Part("worker", lambda: worker.run(install_signals=False), worker.stop),
        Part("scheduler", scheduler.run, scheduler.stop),
        Part("demo producer", produce, producing.set),
        web_part(hh, host, port),
    ]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if not _loopback(shown):
        console.print(
            f"[bold red]warning:[/] the demo listens on {host}: anyone who reaches it can sign "
            "in as its admin with the password printed below"
        )
    console.print(
        f"[bold]hourhand demo[/] on {hh.database_url}\n"
        f"  dashboard: [bold]http://{shown}:{port}/dashboard[/]  "
        f"(sign in as [bold]{user}[/], password [bold]{password}[/])\n"
        f"  API:       http://{shown}:{port}/openapi.json\n"
        "  new demo jobs every few seconds; Ctrl-C stops"
    )
    supervise(parts, worker, grace=5)
