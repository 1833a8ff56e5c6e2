"""``web`` (the REST API under uvicorn) and ``serve`` (worker, scheduler and web in one
process)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import click

from hourhand.app import Hourhand
from hourhand.cli.main import Settings, cli
from hourhand.cli.schedules import load_config
from hourhand.errors import InvalidInput
from hourhand.presence import Presence, process_id
from hourhand.worker import (
    DEFAULT_CONCURRENCY,
    DEFAULT_GRACE,
    DEFAULT_LEASE,
    DEFAULT_POLL_INTERVAL,
    Worker,
    parse_queues,
)

logger = logging.getLogger(__name__)
pass_settings = click.make_pass_decorator(Settings)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
WATCH_INTERVAL = 0.5  # seconds between checks that every part still runs
STOP_WAIT = 10.0  # seconds to wait for the web server and the scheduler to stop

host_option = click.option("--host", default=DEFAULT_HOST, show_default=True)
port_option = click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True
)
metrics_option = click.option(
    "--metrics-public", is_flag=True, help="Serve /metrics without an API key."
)


def web_server(app: Hourhand, host: str, port: int, metrics_public: bool) -> Any:
    """A uvicorn server of the app's API and dashboard, inside the app's own ASGI app if it
    registered one (``hh.web_app``), logging through hourhand's; no access log of request
    bodies or headers: keys travel only in the Authorization header."""
    import uvicorn

    api = app.served_app(metrics_public=metrics_public)
    # no access log: query strings carry search text from job arguments
    config = uvicorn.Config(
        api, host=host, port=port, log_config=None, lifespan="off", access_log=False
    )
    # What is loaded by now (modules, the app) lives as long as the process: out of the
    # collector's sight, a full collection walks only what requests made (bench/api.py:
    # /v1/stats p95 over 60 ms without this, from the collections a 24 h series sets off).
    gc.freeze()
    return uvicorn.Server(config)


@cli.command()
@host_option
@port_option
@metrics_option
@click.option(
    "--config", help="Config file: custom kinds and their settings (default: ./hourhand.toml)."
)
@pass_settings
def web(settings: Settings, host: str, port: int, metrics_public: bool, config: str | None) -> None:
    """Serve the REST API (docs/api.md) until SIGTERM or Ctrl-C."""
    settings.config = config
    load_config(settings, config, schedules=False)  # custom kinds are job types
    server = web_server(settings.app(create=True), host, port, metrics_public)
    registered(settings.app(), server.run)()


def registered(app: Hourhand, run: Callable[[], None]) -> Callable[[], None]:
    """``run`` with this API process listed among the processes (``hourhand workers``)
    while it runs."""

    def run_registered() -> None:
        presence = Presence(app, "web", process_id()).start()
        try:
            run()
        finally:
            presence.stop()

    return run_registered


class Part:
    """One part of ``serve`` running in a thread of its own."""

    def __init__(self, name: str, run: Callable[[], None], stop: Callable[[], None]) -> None:
        self.name = name
        self.stop = stop
        self.error: BaseException | None = None
        self._run = run
        self.thread = threading.Thread(target=self._main, name=f"hourhand-{name}", daemon=True)

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # SystemExit too: uvicorn exits when it cannot bind
            self.error = exc
            logger.error("serve: the %s stopped: %s", self.name, exc or type(exc).__name__)


@cli.command()
@host_option
@port_option
@metrics_option
@click.option("--no-worker", is_flag=True, help="Run no worker.")
@click.option("--no-scheduler", is_flag=True, help="Run no scheduler.")
@click.option("--no-web", is_flag=True, help="Serve no API.")
@click.option("--config", help="Schedules file (default: ./hourhand.toml if present).")
@click.option("--queues", help="Comma-separated queues, each queue or queue:LIMIT (default: all).")
@click.option("--concurrency", type=int, default=DEFAULT_CONCURRENCY, show_default=True)
@click.option("--lease", type=float, default=DEFAULT_LEASE, show_default=True, help="Seconds.")
@click.option("--grace", type=float, default=DEFAULT_GRACE, show_default=True, help="Seconds.")
@click.option("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL, show_default=True)
@pass_settings
def serve(
    settings: Settings,
    host: str,
    port: int,
    metrics_public: bool,
    no_worker: bool,
    no_scheduler: bool,
    no_web: bool,
    config: str | None,
    queues: str | None,
    concurrency: int,
    lease: float,
    grace: float,
    poll_interval: float,
) -> None:
    """Worker, scheduler and REST API in one process, until SIGTERM or Ctrl-C (the worker
    drains as `hourhand worker` does; a second signal skips the grace period)."""
    settings.config = config
    app = settings.app(required=True, create=True)
    load_config(settings, config, schedules=not no_scheduler)
    parts: list[Part] = []
    worker = None
    if not no_worker:
        names, limits = parse_queues(queues)
        worker = app.worker(
            queues=names,
            queue_limits=limits,
            concurrency=concurrency,
            lease=lease,
            grace=grace,
            poll_interval=poll_interval,
        )
        parts.append(Part("worker", lambda: worker.run(install_signals=False), worker.stop))
    if not no_scheduler:
        sched = app.scheduler()
        parts.append(Part("scheduler", sched.run, sched.stop))
    if not no_web:
        parts.append(web_part(app, host, port, metrics_public))
    if not parts:
        raise InvalidInput("--no-worker, --no-scheduler and --no-web leave nothing to run")
    supervise(parts, worker, grace)


def web_part(app: Hourhand, host: str, port: int, metrics_public: bool = False) -> Part:
    """The web server (API and dashboard) as a part of :func:`supervise`."""
    server = web_server(app, host, port, metrics_public)

    def stop_web() -> None:
        server.should_exit = True

    return Part("web server", registered(app, server.run), stop_web)


def supervise(parts: list[Part], worker: Worker | None, grace: float) -> None:
    """Run the parts on threads until SIGTERM or Ctrl-C (a second one forces the worker),
    or until one of them stops (then the rest are stopped; exit code 1)."""
    stopping = threading.Event()
    signals = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        stopping.set()
        if signals > 1 and worker is not None:
            worker.stop(force=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for part in parts:
        part.thread.start()
    while not stopping.wait(WATCH_INTERVAL):
        if any(not p.thread.is_alive() for p in parts):
            stopped = ", ".join(p.name for p in parts if not p.thread.is_alive())
            logger.error("serve: the %s stopped; stopping the rest", stopped)
            break
    for part in parts:
        part.stop()
    for part in parts:
        wait = grace + STOP_WAIT if part.name == "worker" else STOP_WAIT
        part.thread.join(wait)
    failed = [p for p in parts if p.error is not None and not _clean_exit(p.error)]
    if failed or not stopping.is_set():
        raise SystemExit(1)


def _clean_exit(exc: BaseException) -> bool:
    return isinstance(exc, SystemExit) and exc.code in (None, 0)
