"""The scheduler: turns due schedules into jobs. It only enqueues; workers execute.

``tick(now)`` takes the time as a parameter, so tests drive it with any clock; ``run()``
loops on the database's clock. Any number of schedulers may run at once, on one machine or
many: each fire time becomes exactly one job because the job row's (schedule, fire time)
pair is unique and a conflicting insert does nothing; the schedule's next fire time moves
on by compare-and-set, so a scheduler that lost the race just sees it moved.

Misfires (the scheduler was down, or fell behind by more than ``grace``) follow the
schedule's policy: ``skip`` runs nothing for them, ``once`` runs one job for all of them,
``all`` runs each one within ``catchup_window``, the latest ``misfire_cap``. Overlap: with
``skip`` a fire is dropped while an earlier run waits or runs; with ``queue`` one run may
wait (held) behind a running one and starts when it finishes; ``allow`` runs them all.
Several catch-up runs only make sense with ``allow``; otherwise they collapse to one.

Every fire time dealt with gets an entry in the ledger (``hourhand_schedule_fires``, see
:mod:`hourhand.store.fires`), written in the transaction that inserts the runs: the run it
made, or why it made none (the misfire or overlap policy, the schedule was disabled). A
fire applies only if the schedule's next fire time is still the one this scheduler read, so
two schedulers racing on one fire time leave one decision: the winner's.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hourhand.alert_engine import EVALUATE_EVERY, Evaluation
from hourhand.cron import Cron
from hourhand.errors import DatabaseUnavailable, HourhandError
from hourhand.jobs import NewJob
from hourhand.presence import Presence
from hourhand.retention import RETENTION
from hourhand.schedule_model import (
    OVERRIDABLE,
    Schedule,
    ScheduleExists,
    ScheduleSpec,
    spec_next,
)
from hourhand.store import fires as ledger
from hourhand.store.base import HOLD_UNTIL
from hourhand.store.fires import NewFire

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)
# jitter from a generator of our own: the global `random` state belongs to the application
_jitter = random.Random()

MISFIRE_GRACE = 60.0  # seconds late a fire time may be and still count as on time
POLL_INTERVAL = 1.0  # seconds between looks at the schedules, at most
DUE_BATCH = 200  # schedules handled per tick
LOOKBACK = timedelta(days=35)  # how far back a long-missed schedule is scanned
# Ledger entries of fire times nothing ran for that one fire writes (a schedule every minute
# missed for weeks): the newest ones; the earlier ones are counted on one entry per status.
LEDGER_ROWS = 100
# What became of a missed fire time the misfire policy did not run, per policy.
MISSED = {"skip": ledger.SCHEDULER_DOWN, "once": ledger.MERGED, "all": ledger.SKIPPED_MISFIRE}
ERROR_BACKOFF = 1.0  # seconds
# The job statistics' minute rows are kept this long, then folded into totals per (queue,
# job type), so that the rollup stays small; one scheduler looks at most this often.
STATS_KEPT = timedelta(days=2)
COMPACT_EVERY = timedelta(hours=1)
# minutes older than this are counted into the totals (no transaction still adds to them)
COUNT_LAG = timedelta(hours=1)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Scheduler:
    """Enqueues the jobs of due schedules."""

    def __init__(
        self, app: Hourhand, *, poll_interval: float = POLL_INTERVAL, grace: float = MISFIRE_GRACE
    ) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.grace = timedelta(seconds=grace)
        self._crons: dict[tuple[str, str], Cron] = {}
        self._streams: dict[tuple[int, str, str], _Stream] = {}
        self.stopped = threading.Event()
        self._compacted_at: datetime | None = None
        self._evaluated_at: datetime | None = None
        self.alerts = app.alert_engine()

    # -- code and config schedules -------------------------------------------------------
    def sync(self, *, add_only: bool = False) -> SyncReport:
        """Make the table's code schedules match the app's, and its config schedules match
        the config file the app read; user schedules are never touched. ``add_only``: add
        the missing ones, change and remove nothing (an app's first use of its database: it
        may be a process that imports only some of the schedules, or older code).

        Config schedules are only added, changed or removed by an app that read a config
        file: one started where there is none leaves them as they are. What the code or
        file says about ``enabled`` is kept apart from an operator's enable/disable, which
        a sync never undoes."""
        report = SyncReport()
        store = self.app.store
        sources = ["code", "config"] if self.app.config_path is not None else ["code"]
        wanted = {spec.name: spec for spec in self.app.system_schedules()}
        current = {
            s.name: s
            for source in sources
            for s in store.list_schedules(source=source)
            if s.org_id is None
        }
        # With no config file read, a retention policy can still come from the variables
        # (HOURHAND_RETENTION_*): this app then manages that one config schedule.
        managed = {RETENTION} if "config" not in sources and RETENTION in wanted else set()
        for name in managed:
            found = store.find_schedule(name, None)
            if found is not None and found.source == "config":
                current[name] = found
        for name, spec in wanted.items():
            spec = self.app.schedules.check(spec)
            have = current.get(name) or store.find_schedule(name, None)
            if have is None:
                try:
                    self.app.schedules.add(spec)
                    report.added.append(name)
                    continue
                except ScheduleExists:  # another scheduler added it just now
                    have = store.find_schedule(name, None)
                    if have is None:
                        raise
            if add_only:
                continue
            if have.source not in sources and name not in managed:
                logger.error(
                    "schedule %r from %s clashes with a %s schedule of that name; not synced",
                    name,
                    spec.source,
                    have.source,
                )
                continue
            values = _changes(have, spec, store.now)
            if values:
                store.update_schedule(have.id, values)
                report.updated.append(name)
        for name, have in current.items():
            if name not in wanted and not add_only:
                store.delete_schedule(have.id)
                report.removed.append(name)
        if report.added or report.updated or report.removed:
            logger.info(
                "schedules synced: added %s, updated %s, removed %s",
                report.added,
                report.updated,
                report.removed,
            )
        return report

    # -- firing ----------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[int]:
        """Enqueue the runs of every schedule due at ``now``; returns the job ids."""
        ids: list[int] = []
        for schedule in self.app.store.due_schedules(now, DUE_BATCH):
            try:
                ids += self._fire(schedule, now)
            except DatabaseUnavailable:
                raise  # not the schedule's fault: the next tick tries again
            except HourhandError as exc:
                logger.error("schedule %r (id %d): %s", schedule.name, schedule.id, exc)
                self._skip_to(schedule, now)
        return ids

    def _cron(self, schedule: Schedule) -> Cron:
        key = (schedule.cron, schedule.tz)
        if key not in self._crons:
            self._crons[key] = Cron.parse(schedule.cron, schedule.tz)
        return self._crons[key]

    def _stream(self, schedule: Schedule, start: datetime) -> _Stream:
        """The schedule's fire times from ``start`` on; kept between ticks, so each fire
        time is computed once (a schedule firing every minute costs one step a tick)."""
        key = (schedule.id, schedule.cron, schedule.tz)
        stream = self._streams.get(key)
        if stream is None or stream.head != start:
            stream = _Stream(self._cron(schedule), start)
            self._streams[key] = stream
        return stream

    def _fire(self, schedule: Schedule, now: datetime) -> list[int]:
        expected = schedule.next_fire_at
        assert expected is not None
        window = timedelta(seconds=schedule.catchup_window)
        start = max(expected, now - max(window, LOOKBACK))
        stream = self._stream(schedule, start)
        due: deque[datetime] = deque(maxlen=max(schedule.misfire_cap, LEDGER_ROWS, 2))
        seen = 0
        dropped: datetime | None = None  # the newest fire time that did not stay in ``due``
        while (fire := stream.head) is not None and fire <= now:
            if len(due) == due.maxlen:
                dropped = due[0]
            due.append(stream.pop())
            seen += 1
        following = stream.head

        picked = runs = self._by_misfire(schedule, list(due), expected, now, window)
        held = False
        if runs and schedule.overlap != "allow":
            waiting, running = self.app.store.schedule_activity(schedule.id)
            if waiting or (running and schedule.overlap == "skip"):
                logger.info(
                    "schedule %r: run at %s skipped, the previous one is %s",
                    schedule.name,
                    runs[-1].isoformat(),
                    "waiting" if waiting else "running",
                )
                runs = []
            else:
                held = bool(running)  # 'queue': wait behind the running one
                runs = runs[-1:]
        jobs = self._runs(schedule, runs, held)
        # a missed fire time the misfire policy left: with no run made, misfire 'once'
        # folded it into a run the overlap policy dropped
        missed = MISSED[schedule.misfire]
        if not jobs and missed == ledger.MERGED and picked:
            missed = ledger.SKIPPED_OVERLAP
        fires = _entries(due, picked, jobs, held, missed)
        if dropped is not None:  # older than all of ``due``: missed, and left
            run = jobs[-1].fire_time if missed == ledger.MERGED else None
            fires.append(NewFire(dropped, missed, run=run, unlisted=seen - len(due) - 1))
        fires += self._disabled(schedule, expected)
        ids = self.app.store.fire_schedule(schedule.id, expected, following, jobs, _bounded(fires))
        if seen > len(runs) and expected < now - self.grace:
            logger.warning(
                "schedule %r: %s%d fire time(s) due since %s; misfire policy %r ran %d",
                schedule.name,
                "over " if start > expected else "",
                seen,
                expected.isoformat(),
                schedule.misfire,
                len(runs),
            )
        return ids

    def _by_misfire(
        self,
        schedule: Schedule,
        due: list[datetime],
        expected: datetime,
        now: datetime,
        window: timedelta,
    ) -> list[datetime]:
        on_time = [f for f in due if now - f <= self.grace]
        missed = expected < now - self.grace
        if schedule.misfire == "skip" or not missed:
            return on_time
        if schedule.misfire == "once":
            return [due[-1]] if due else [expected]
        caught_up = [f for f in due if now - f <= window]  # 'all'
        return caught_up[-schedule.misfire_cap :]

    def _runs(self, schedule: Schedule, runs: list[datetime], held: bool) -> list[NewJob]:
        jobs: list[NewJob] = []
        for fire in runs:
            run_at = fire
            if held:
                run_at = HOLD_UNTIL
            elif schedule.jitter:
                run_at = fire + timedelta(seconds=_jitter.uniform(0, schedule.jitter))
            jobs.append(
                self.app.new_job(
                    schedule.job,
                    schedule.args,
                    run_at=run_at,
                    queue=schedule.queue,
                    priority=schedule.priority,
                    max_attempts=schedule.max_attempts,
                    timeout=schedule.timeout,
                    org_id=schedule.org_id,
                    created_by=schedule.created_by,
                    schedule_id=schedule.id,
                    fire_time=fire,
                )
            )
        return jobs

    def _skip_to(self, schedule: Schedule, now: datetime) -> None:
        """A schedule that cannot fire (its job type is gone): move on, do not spin. The
        fire times due are in the ledger as 'error'."""
        expected = schedule.next_fire_at
        assert expected is not None
        cron = self._cron(schedule)
        start = max(expected, now - LOOKBACK) - timedelta(microseconds=1)
        fires = _tail(cron.fires(start), now + timedelta(microseconds=1), ledger.ERROR)
        fires += self._disabled(schedule, expected)
        following = cron.next(now)
        self.app.store.fire_schedule(schedule.id, expected, following, [], _bounded(fires))

    def _disabled(self, schedule: Schedule, expected: datetime) -> list[NewFire]:
        """Ledger entries of the fire times a schedule enabled again missed while it was
        disabled: after ``disabled_at``, before its first fire time since (``expected``),
        at most LOOKBACK back."""
        if schedule.disabled_at is None or schedule.disabled_at >= expected:
            return []
        start = max(schedule.disabled_at, expected - LOOKBACK)
        return _tail(self._cron(schedule).fires(start), expected, ledger.DISABLED)

    def compact_stats(self, now: datetime) -> int | None:
        """Count the job statistics' minutes older than COUNT_LAG into the totals, delete
        those older than STATS_KEPT, at most once per COMPACT_EVERY (by ``now``, the
        database's clock in :meth:`run`). Returns how many rows went, None if it was not
        time yet. Several schedulers may do it at once: the mark's row lock orders them."""
        if self._compacted_at is not None and now - self._compacted_at < COMPACT_EVERY:
            return None
        self._compacted_at = now
        return self.app.store.compact_stats(now - STATS_KEPT, now - COUNT_LAG)

    def evaluate_alerts(self, now: datetime, *, force: bool = False) -> Evaluation | None:
        """Evaluate the alert rules at most once per EVALUATE_EVERY (by ``now``, the
        database's clock in :meth:`run`); None if it was not time yet. Any number of
        schedulers may do it: each alert changes, and is notified, once."""
        every = timedelta(seconds=EVALUATE_EVERY)
        if not force and self._evaluated_at is not None and now - self._evaluated_at < every:
            return None
        self._evaluated_at = now
        return self.alerts.evaluate(now)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        """Sync, then fire due schedules until :meth:`stop` (thread-safe)."""
        if self.app.config_path is not None:
            logger.info(
                "scheduler: read %d schedule(s) from %s",
                len(self.app.config_schedules),
                self.app.config_path,
            )
        else:
            logger.info(
                "scheduler: no config file read; config schedules in the database are "
                "left as they are"
            )
        self.sync()
        presence = Presence.of_scheduler(self).start()  # hourhand workers lists it
        # alerts are evaluated on a thread of their own: a slow rule never delays a fire
        alerting = threading.Thread(target=self._alert_loop, name="hourhand-alerts", daemon=True)
        alerting.start()
        logger.info("scheduler started")
        while not self.stopped.is_set():
            wait = self.poll_interval
            try:
                now = self.app.store.now()
                self.tick(now)
                self.compact_stats(now)
                following = self.app.store.next_schedule_due()
                if following is not None:
                    wait = min(wait, max((following - now).total_seconds(), 0.01))
            except Exception:
                logger.exception("scheduler tick failed; retrying in %.1fs", ERROR_BACKOFF)
                wait = ERROR_BACKOFF
            self.stopped.wait(wait)
        alerting.join(30)
        presence.stop()
        logger.info("scheduler stopped")

    def _alert_loop(self) -> None:
        """Evaluate the alert rules every EVALUATE_EVERY seconds until :meth:`stop`."""
        while not self.stopped.is_set():
            try:
                self.evaluate_alerts(self.app.store.now(), force=True)
            except Exception:
                logger.exception("evaluating the alert rules failed; trying again")
            self.stopped.wait(EVALUATE_EVERY)

    def stop(self) -> None:
        self.stopped.set()


class _Stream:
    """Fire times at or after a start, one at a time."""

    def __init__(self, cron: Cron, start: datetime) -> None:
        self._fires = cron.fires(start - timedelta(microseconds=1))
        self.head: datetime | None = next(self._fires, None)

    def pop(self) -> datetime:
        fire = self.head
        assert fire is not None
        self.head = next(self._fires, None)
        return fire


def _entries(
    due: deque[datetime], picked: list[datetime], jobs: list[NewJob], held: bool, missed: str
) -> list[NewFire]:
    """The ledger entries of the fire times in ``due`` (newest first): the runs made, and
    what became of the others: ``picked`` by the misfire policy but dropped or folded into
    one run by the overlap policy, or ``missed`` and left by the misfire policy."""
    ran = {job.fire_time: job for job in jobs if job.fire_time is not None}
    run = jobs[-1].fire_time if jobs else None  # what merged fire times fold into
    chosen = set(picked)
    out: list[NewFire] = []
    # (misfire 'once' may run the fire time it was due at, not in ``due`` if that is older
    # than LOOKBACK)
    for fire in sorted(set(due).union(ran), reverse=True):
        job = ran.get(fire)
        if job is not None:
            status, due_at = (ledger.HELD, None) if held else (ledger.ENQUEUED, job.run_at)
            out.append(NewFire(fire, status, due_at, fire))
        elif fire in chosen:
            status = ledger.MERGED if jobs else ledger.SKIPPED_OVERLAP
            out.append(NewFire(fire, status, run=run))
        else:
            out.append(NewFire(fire, missed, run=run if missed == ledger.MERGED else None))
    return out


def _tail(fires: Iterator[datetime], until: datetime, status: str) -> list[NewFire]:
    """Entries of the fire times before ``until``, newest first: the newest LEDGER_ROWS one
    by one, and one for all the earlier ones (its ``unlisted``: how many more)."""
    kept: deque[datetime] = deque(maxlen=LEDGER_ROWS)
    older = 0
    newest_older: datetime | None = None
    for fire in fires:
        if fire >= until:
            break
        if len(kept) == LEDGER_ROWS:
            newest_older = kept[0]
            older += 1
        kept.append(fire)
    out = [NewFire(fire, status) for fire in reversed(kept)]
    if newest_older is not None:
        out.append(NewFire(newest_older, status, unlisted=older - 1))
    return out


def _bounded(fires: list[NewFire]) -> list[NewFire]:
    """At most LEDGER_ROWS entries of fire times nothing ran for (``fires``: newest first),
    and one more per status for the rest: the newest of them, counting the others in its
    ``unlisted``. Entries of runs are all kept: each has its job."""
    out: list[NewFire] = []
    quiet = 0
    summary: dict[str, int] = {}  # status -> the position of its counting entry in ``out``
    for fire in fires:
        if fire.status in ledger.RAN or quiet < LEDGER_ROWS:
            quiet += fire.status not in ledger.RAN
            out.append(fire)
        elif (at := summary.get(fire.status)) is None:
            summary[fire.status] = len(out)
            out.append(fire)
        else:
            out[at] = replace(out[at], unlisted=out[at].unlisted + 1 + fire.unlisted)
    return out


def _changes(have: Schedule, spec: ScheduleSpec, now: Callable[[], datetime]) -> dict[str, object]:
    """The column values that bring a stored code/config schedule in line with its
    definition, keeping an operator's enable/disable and a config schedule's edits."""
    if have.source == "config" and have.overrides:
        kept = {k: v for k, v in have.overrides.items() if k in OVERRIDABLE}
        spec = replace(spec, **kept)
    changed = {
        k
        for k in ScheduleSpec.__dataclass_fields__
        if k != "enabled" and getattr(have, k) != getattr(spec, k)
    }
    values: dict[str, object] = {k: getattr(spec, k) for k in changed}
    if spec.enabled != have.defined_enabled:
        values["defined_enabled"] = spec.enabled
    enabled = spec.enabled if have.enabled_override is None else have.enabled_override
    if enabled != have.enabled:
        values["enabled"] = enabled
    if enabled != have.enabled or {"cron", "tz", "jitter"} & changed:
        values["next_fire_at"] = spec_next(spec, now()) if enabled else None
    return values
