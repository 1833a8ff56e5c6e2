"""Alert rules on both stores: each kind fires and resolves once with two schedulers
evaluating (two apps on one database, as two scheduler processes would be), the clock
injected where time matters; notifications are jobs that reach a real webhook receiver
and a real SMTP server, and retry while a channel is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from hourhand import Hourhand, JobContext, Retry
from hourhand.alert_engine import NOTIFY_JOB, Evaluation
from hourhand.jobs import JobState
from hourhand.ops import Actor
from hourhand.store import JobFilter
from tests.conftest import WorkerThread, wait_until
from tests.support.servers import Mailbox, Receiver, free_port

CLI = Actor.cli()
DONE = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class Setup:
    """Two apps on one database (two schedulers' worth), the same config file, rules and
    job types; ``worker()`` runs the first app's jobs."""

    def __init__(self, url: str, config: Path, start: Callable[..., WorkerThread]) -> None:
        self.release = threading.Event()
        self.apps = [self._app(url, config) for _ in range(2)]
        self.hh = self.apps[0]
        self._start = start

    def _app(self, url: str, config: Path) -> Hourhand:
        app = Hourhand(url)

        @app.job("reports:generate", max_attempts=1)
        def generate(ctx: JobContext, ok: bool = True) -> str:
            if not ok:
                raise RuntimeError("the report's source is gone")
            return "done"

        @app.job("slow", max_attempts=1)
        def slow(ctx: JobContext) -> None:
            self.release.wait(30)

        app.load_alerting(config)
        spec = app.registry[NOTIFY_JOB]  # retry a failed delivery quickly
        app.registry[NOTIFY_JOB] = replace(spec, retry=Retry.fixed([0.2]))
        return app

    def evaluate(self, now: datetime) -> list[Evaluation]:
        """Both schedulers evaluate at the same moment."""
        return [app.alert_engine().evaluate(now) for app in self.apps]

    def now(self) -> datetime:
        return self.hh.store.now()

    def run(self, name: str, count: int = 1, **args: Any) -> None:
        """Enqueue jobs and wait until a worker has finished them."""
        self.finish(*[self.hh.enqueue(name, args) for _ in range(count)])

    def finish(self, *ids: int) -> None:
        """Wait until a worker has finished these jobs."""
        worker = self._start(self.hh, poll_interval=0.05)
        wait_until(lambda: all(self.hh.get_job(i).state in DONE for i in ids), what="jobs")
        worker.stop()

    def deliver(self) -> None:
        """Run the notification jobs that are due."""
        worker = self._start(self.hh, poll_interval=0.05)
        wait_until(lambda: not self.notifications(unfinished=True), what="notifications")
        worker.stop()

    def notifications(self, *, unfinished: bool = False) -> list[Any]:
        jobs = self.hh.store.list_jobs(JobFilter(name=NOTIFY_JOB, limit=1000))
        return [j for j in jobs if not (unfinished and j.state in DONE)]

    def alerts(self, state: str | None = None) -> list[Any]:
        return self.hh.ops.alerts.list(CLI, state=state)

    def close(self) -> None:
        self.release.set()
        for app in self.apps:
            app.close()


def write_config(path: Path, receiver: Receiver, smtp_port: int, rules: str) -> Path:
    path.write_text(
        f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "hourhand@example.com"
timeout = 5

[channels.ops-hook]
kind = "webhook"
url = "{receiver.url}"
secret = "hook-s3cret"

[channels.ops-mail]
kind = "email"
to = ["ops@example.com"]
{rules}
"""
    )
    return path


@pytest.fixture
def setup_for(
    store_url: str,
    tmp_path: Path,
    receiver: Receiver,
    smtp: tuple[Any, Mailbox],
    app_workers: Callable[..., WorkerThread],
) -> Iterator[Callable[..., Setup]]:
    made: list[Setup] = []

    def make(rules: str, smtp_port: int | None = None) -> Setup:
        port = smtp[0].port if smtp_port is None else smtp_port
        config = write_config(tmp_path / "hourhand.toml", receiver, port, rules)
        made.append(Setup(store_url, config, app_workers))
        return made[-1]

    yield make
    for s in made:
        s.close()


def posted(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.requests]


def changes(results: list[Evaluation], what: str) -> list[int]:
    return [i for r in results for i in getattr(r, what)]


# -- each kind fires and resolves, once -----------------------------------------------------
def test_failures_in_a_row_fires_once_notifies_both_channels_and_resolves(
    setup_for: Callable[..., Setup], receiver: Receiver, smtp: tuple[Any, Mailbox]
) -> None:
    s = setup_for(
        """
[alerts.reports-failing]
kind = "failures_in_a_row"
job = "reports:generate"
count = 3
severity = "critical"
channels = ["ops-hook", "ops-mail"]
"""
    )
    s.run("reports:generate", 2, ok=False)
    assert changes(s.evaluate(s.now()), "fired") == []  # two failures are not three
    s.run("reports:generate", 1, ok=False)
    results = s.evaluate(s.now())
    assert len(changes(results, "fired")) == 1  # two schedulers, one alert
    [alert] = s.alerts("firing")
    assert alert.key == "job:reports:generate" and alert.severity == "critical"
    assert "failed 3 times in a row" in alert.summary
    assert alert.details["last_error"].startswith("RuntimeError: the report's source is gone")
    assert len(s.notifications()) == 2  # one per channel
    assert changes(s.evaluate(s.now()), "fired") == []  # still firing: nothing new
    s.deliver()
    [(headers, raw)] = receiver.requests
    signed = hmac.new(b"hook-s3cret", raw, hashlib.sha256).hexdigest()
    assert headers["X-Hourhand-Signature"] == f"sha256={signed}"  # the channel's secret
    [body] = posted(receiver)
    assert body["rule"] == "reports-failing" and body["state"] == "firing"
    assert body["severity"] == "critical" and "3 times in a row" in body["summary"]
    [(to, message)] = smtp[1].messages
    assert to == ["ops@example.com"]
    assert message["Subject"] == f"[hourhand] [CRITICAL] reports-failing: {alert.summary}"
    assert "rule: reports-failing (failures_in_a_row)" in message.get_content()

    s.run("reports:generate", 1, ok=True)
    assert len(changes(s.evaluate(s.now()), "resolved")) == 1
    s.deliver()
    assert [b["state"] for b in posted(receiver)] == ["firing", "resolved"]
    assert len(smtp[1].messages) == 2
    [past] = s.alerts("resolved")
    assert past.id == alert.id and past.notifications == 4  # 2 channels x (fire, resolve)
    assert s.alerts("open") == []


def test_failure_rate_over_a_window_with_a_minimum_of_runs(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.reports-rate]
kind = "failure_rate"
job = "reports:generate"
rate = 50
min_runs = 5
window = 3600
"""
    )
    s.run("reports:generate", 3, ok=False)
    assert s.evaluate(s.now()) and s.alerts() == []  # 3 runs: fewer than min_runs
    s.run("reports:generate", 2, ok=True)
    assert len(changes(s.evaluate(s.now()), "fired")) == 1  # 3 of 5 = 60% > 50%
    [alert] = s.alerts("firing")
    assert alert.details["runs"] == 5 and alert.details["failed"] == 3
    s.run("reports:generate", 2, ok=True)  # 3 of 7 = 43%
    assert len(changes(s.evaluate(s.now()), "resolved")) == 1
    # an hour later the window is empty: nothing fires
    assert changes(s.evaluate(s.now() + timedelta(hours=2)), "fired") == []


def test_long_running_by_a_fixed_limit(
    setup_for: Callable[..., Setup], app_workers: Callable[..., WorkerThread]
) -> None:
    s = setup_for(
        """
[alerts.stuck]
kind = "long_running"
longer_than = 600
severity = "warning"
"""
    )
    job_id = s.hh.enqueue("slow", {})
    worker = app_workers(s.hh, poll_interval=0.05)
    wait_until(lambda: s.hh.get_job(job_id).state == JobState.RUNNING, what="running")
    assert changes(s.evaluate(s.now() + timedelta(minutes=5)), "fired") == []
    assert len(changes(s.evaluate(s.now() + timedelta(minutes=11)), "fired")) == 1
    [alert] = s.alerts("firing")
    assert alert.key == f"run:{job_id}" and alert.details["job"] == "slow"
    s.release.set()
    wait_until(lambda: s.hh.get_job(job_id).state == JobState.COMPLETED, what="done")
    worker.stop()
    assert len(changes(s.evaluate(s.now() + timedelta(minutes=12)), "resolved")) == 1


def test_missed_schedule_when_no_scheduler_fires_and_when_the_run_does_not_start(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.nightly-missed]
kind = "missed_schedule"
schedule = "nightly"
grace = 300
"""
    )
    schedule = s.hh.ops.schedules.create(CLI, "nightly", "reports:generate", "0 3 * * *")
    due = schedule.next_fire_at
    assert due is not None
    assert s.evaluate(due + timedelta(minutes=4)) and s.alerts() == []  # within the grace
    assert len(changes(s.evaluate(due + timedelta(minutes=6)), "fired")) == 1
    [alert] = s.alerts("firing")
    assert alert.details["reason"] == "not fired"
    assert len(changes(s.evaluate(due + timedelta(minutes=6)), "resolved")) == 0
    # a scheduler fires it on time, but no worker starts the run
    s.hh.scheduler().tick(due + timedelta(seconds=30))
    s.evaluate(due + timedelta(minutes=7))
    [late] = s.alerts("firing")  # the same alert, saying why now
    assert late.id == alert.id and late.details["reason"] == "not started"
    assert "has not started" in late.summary
    s.finish(s.hh.ops.schedules.trigger(CLI, schedule.id).id)  # someone runs it by hand
    assert len(changes(s.evaluate(due + timedelta(minutes=8)), "resolved")) == 1


def test_missed_schedule_as_a_dead_mans_switch(setup_for: Callable[..., Setup]) -> None:
    s = setup_for(
        """
[alerts.budget-silent]
kind = "missed_schedule"
schedule = "budget"
no_success_for = 1800
"""
    )
    s.hh.ops.schedules.create(CLI, "budget", "reports:generate", "*/15 * * * *")
    now = s.now()
    assert s.evaluate(now + timedelta(minutes=20)) and s.alerts() == []
    assert len(changes(s.evaluate(now + timedelta(minutes=31)), "fired")) == 1
    [schedule] = s.hh.ops.schedules.list(CLI)
    s.finish(s.hh.ops.schedules.trigger(CLI, schedule.id).id)
    assert len(changes(s.evaluate(s.now() + timedelta(minutes=1)), "resolved")) == 1


def test_queue_backlog_by_ready_count(setup_for: Callable[..., Setup]) -> None:
    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 2
"""
    )
    for _ in range(3):
        s.hh.enqueue("reports:generate", {})
    assert len(changes(s.evaluate(s.now()), "fired")) == 1
    [alert] = s.alerts("firing")
    assert alert.key == "queue:default" and alert.details["ready"] == 3
    s.finish(*[j.id for j in s.hh.store.list_jobs(JobFilter(name="reports:generate"))])
    assert len(changes(s.evaluate(s.now()), "resolved")) == 1


def test_dead_letter_fires_on_new_failed_jobs_and_resolves_when_redriven(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.dead]
kind = "dead_letter"
severity = "warning"
"""
    )
    s.run("reports:generate", 1, ok=False)
    assert len(changes(s.evaluate(s.now()), "fired")) == 1
    [alert] = s.alerts("firing")
    assert alert.key == "job:reports:generate" and alert.details["count"] == 1
    [dead] = s.hh.store.list_jobs(JobFilter(state=JobState.FAILED))
    s.hh.ops.jobs.retry(CLI, dead.id)  # the redrive empties the dead-letter set
    assert len(changes(s.evaluate(s.now()), "resolved")) == 1


def test_no_workers_pending_for_its_duration_then_firing_then_resolved(
    setup_for: Callable[..., Setup], app_workers: Callable[..., WorkerThread]
) -> None:
    s = setup_for(
        """
[alerts.no-workers]
kind = "no_workers"
queue = "default"
for = 60
"""
    )
    now = s.now()
    results = s.evaluate(now)
    assert len(changes(results, "opened")) == 1 and changes(results, "fired") == []
    [pending] = s.alerts("pending")
    assert changes(s.evaluate(now + timedelta(seconds=30)), "fired") == []
    assert len(changes(s.evaluate(now + timedelta(seconds=61)), "fired")) == 1
    assert [a.id for a in s.alerts("firing")] == [pending.id]
    worker = app_workers(s.hh, poll_interval=0.05)
    wait_until(lambda: s.hh.ops.workers.list(CLI), what="the worker's beat")
    assert len(changes(s.evaluate(now + timedelta(seconds=62)), "resolved")) == 1
    worker.stop()


# -- the lifecycle: repeat, acknowledge, silence ------------------------------------------
def test_repeat_until_acknowledged_and_nothing_while_silenced(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
ready_above = 0
repeat = 600
channels = ["ops-hook"]
"""
    )
    s.hh.enqueue("reports:generate", {})
    now = s.now()
    s.evaluate(now)
    [alert] = s.alerts("firing")
    assert len(s.notifications()) == 1
    assert changes(s.evaluate(now + timedelta(minutes=5)), "repeated") == []
    assert len(changes(s.evaluate(now + timedelta(minutes=11)), "repeated")) == 1
    assert len(s.notifications()) == 2
    s.hh.ops.alerts.ack(CLI, alert.id)
    assert changes(s.evaluate(now + timedelta(minutes=30)), "repeated") == []
    s.hh.ops.alerts.silence(CLI, alert.id, 3600)
    s.hh.ops.alerts.ack(CLI, alert.id, undo=True)
    assert changes(s.evaluate(now + timedelta(minutes=40)), "repeated") == []  # silenced
    s.finish(*[j.id for j in s.hh.store.list_jobs(JobFilter(name="reports:generate"))])
    assert len(changes(s.evaluate(s.now()), "resolved")) == 1
    assert len(s.notifications()) == 2


def test_a_notification_retries_while_the_smtp_server_is_down(
    setup_for: Callable[..., Setup],
) -> None:
    port = free_port()  # the mail server's port: nothing listens there yet
    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
ready_above = 0
channels = ["ops-mail"]
""",
        smtp_port=port,
    )
    s.hh.enqueue("reports:generate", {})
    s.evaluate(s.now())
    [note] = s.notifications()
    worker = s._start(s.hh, poll_interval=0.05, queues=["hourhand"])
    wait_until(lambda: s.hh.get_job(note.id).attempt >= 2, what="a retried delivery")
    assert s.hh.get_job(note.id).state in (JobState.RETRYING, JobState.QUEUED, JobState.RUNNING)
    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()  # the mail server is back
    try:
        wait_until(lambda: s.hh.get_job(note.id).state == JobState.COMPLETED, what="delivered")
    finally:
        worker.stop()
        server.stop()
    [(_, message)] = box.messages
    assert "[WARNING] backlog" in message["Subject"]
    attempts = s.hh.ops.jobs.get(CLI, note.id).attempts
    assert attempts[0].outcome == "failed" and "SMTPConnectError" in (attempts[0].error or "")
    assert attempts[-1].outcome == "completed"


def test_two_schedulers_evaluating_at_the_same_instant_open_and_notify_once(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 0
channels = ["ops-hook"]
"""
    )
    s.hh.enqueue("reports:generate", {})
    now = s.now()
    for step in (now, now + timedelta(minutes=1)):  # fire, then (queue drained) resolve
        if step != now:
            s.finish(*[j.id for j in s.hh.store.list_jobs(JobFilter(name="reports:generate"))])
        barrier = threading.Barrier(2)
        results: list[Evaluation] = []

        threads = [
            threading.Thread(target=_evaluate, args=(app, step, barrier, results)) for app in s.apps
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(results) == 2
        what = "fired" if step == now else "resolved"
        assert len(changes(results, what)) == 1
    assert len(s.notifications()) == 2  # firing, resolved: one each


def _evaluate(
    app: Hourhand, at: datetime, barrier: threading.Barrier, results: list[Evaluation]
) -> None:
    barrier.wait(10)
    results.append(app.alert_engine().evaluate(at))


def test_retention_deletes_resolved_alerts_past_their_days_and_keeps_open_ones(
    setup_for: Callable[..., Setup],
) -> None:
    from hourhand.retention import prune_alert_history

    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 0
"""
    )
    s.hh.enqueue("reports:generate", {})
    long_ago = s.now() - timedelta(days=100)
    s.evaluate(long_ago)  # opened 100 days ago, still firing
    s.finish(*[j.id for j in s.hh.store.list_jobs(JobFilter(name="reports:generate"))])
    s.evaluate(long_ago + timedelta(days=1))  # resolved 99 days ago
    s.hh.enqueue("reports:generate", {})
    s.evaluate(s.now())  # a new one, firing now
    [current] = s.alerts("firing")
    report = prune_alert_history(s.hh.store, 90, 1, lambda pause: False, 0)
    assert report == {"older_than_days": 90, "deleted": 1}
    assert [a.id for a in s.alerts()] == [current.id]


def test_missed_schedule_reports_a_fire_time_the_ledger_says_did_not_run(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.nightly-missed]
kind = "missed_schedule"
schedule = "nightly"
grace = 300
"""
    )
    schedule = s.hh.ops.schedules.create(CLI, "nightly", "reports:generate", "0 3 * * *")
    due = schedule.next_fire_at
    assert due is not None
    # the scheduler comes back an hour late: misfire 'skip' runs nothing for 03:00
    s.hh.scheduler().tick(due + timedelta(hours=1))
    [entry] = s.hh.ops.schedules.runs(CLI, schedule.id).runs
    assert entry.fire.status == "scheduler_down"
    assert len(changes(s.evaluate(due + timedelta(hours=1)), "fired")) == 1
    [alert] = s.alerts("firing")
    assert alert.details["reason"] == "missed" and alert.details["status"] == "scheduler_down"
    assert "did not run (scheduler down)" in alert.summary
    # someone runs it by hand and it succeeds: the miss is made good
    s.finish(s.hh.ops.schedules.trigger(CLI, schedule.id).id)
    assert len(changes(s.evaluate(due + timedelta(hours=1, minutes=1)), "resolved")) == 1


def test_a_scheduler_without_a_rule_leaves_its_alerts_to_the_schedulers_that_have_it(
    setup_for: Callable[..., Setup], tmp_path: Path
) -> None:
    s = setup_for(
        """
[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 0
channels = ["ops-hook"]
"""
    )
    other = Hourhand(s.hh.database_url)  # a scheduler whose config has no such rule
    try:
        s.hh.enqueue("reports:generate", {})
        now = s.now()
        [first] = s.hh.alert_engine().evaluate(now).fired
        for minute in range(1, 4):  # both evaluate, again and again: no flapping
            assert other.alert_engine().evaluate(now + timedelta(minutes=minute)).resolved == []
            assert s.hh.alert_engine().evaluate(now + timedelta(minutes=minute)).fired == []
        assert [a.id for a in s.alerts()] == [first]
        assert len(s.notifications()) == 1
    finally:
        other.close()


def test_an_alert_that_started_firing_while_silenced_is_announced_when_the_silence_ends(
    setup_for: Callable[..., Setup],
) -> None:
    s = setup_for(
        """
[alerts.no-workers]
kind = "no_workers"
queue = "default"
for = 60
channels = ["ops-hook"]
"""
    )
    now = s.now()
    s.evaluate(now)
    [pending] = s.alerts("pending")
    s.hh.ops.alerts.silence(CLI, pending.id, 120)  # silenced from the database's now
    assert len(changes(s.evaluate(now + timedelta(seconds=61)), "fired")) == 1
    assert s.notifications() == []  # it fires, silently
    assert changes(s.evaluate(now + timedelta(seconds=90)), "repeated") == []
    assert len(changes(s.evaluate(now + timedelta(seconds=130)), "repeated")) == 1
    [note] = s.notifications()
    assert note.args["note"]["state"] == "firing"
