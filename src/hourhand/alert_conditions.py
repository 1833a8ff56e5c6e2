"""What each alert rule kind looks at, and what it finds now.

:func:`findings` answers, for one rule at one moment, the conditions that hold: one
:class:`Finding` per thing the rule is about (a job type, a schedule, a queue, a running
job), keyed so that the same condition seen again is the same alert. It only reads; the
lifecycle (pending, firing, resolved, notifications) is :mod:`hourhand.alert_engine`'s.

What each kind reads (none of it scans the jobs' history):

- ``failures_in_a_row``: the latest ``count`` attempts of a schedule's newest jobs (index
  by schedule), or of a job type among the newest jobs of all (RECENT_SCAN);
- ``failure_rate``: the job statistics' minutes of the window (per job type and queue), or
  a schedule's (or an organisation's) latest attempts;
- ``long_running``: the running jobs (a partial index), against a fixed limit or ``factor``
  times the p95 of the type's latest completed attempts;
- ``missed_schedule``: the schedule's next fire time (a scheduler that is not firing), its
  ledger (a fire time nothing ran for; the last success) and its newest run (enqueued and
  not started);
- ``queue_backlog``: the queues' ready counts and oldest ready job (partial indexes);
- ``dead_letter``: the newest jobs of the dead-letter set (a partial index);
- ``no_workers``: the registry of live processes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourhand.alert_config import AlertRule
from hourhand.humanize import duration
from hourhand.jobs import JobState
from hourhand.presence import ALIVE_WITHIN
from hourhand.schedule_model import Schedule
from hourhand.store import JobFilter
from hourhand.store.alert_rows import RecentAttempt
from hourhand.store.base import HOLD_UNTIL
from hourhand.store.fires import ERROR, SCHEDULER_DOWN, SKIPPED_MISFIRE, FireRecord

if TYPE_CHECKING:
    from hourhand.app import Hourhand

NOTIFY_QUEUE = "hourhand"  # where notifications wait (alert_engine.NOTIFY_QUEUE)
# ledger statuses of a fire time nothing ran for that missed_schedule reports (an overlap
# skip, a merge into one catch-up run or a disabled schedule are what was asked for)
MISSED = frozenset({SCHEDULER_DOWN, SKIPPED_MISFIRE, ERROR})
FAILED_OUTCOMES = frozenset({"failed", "timeout", "lost"})
RECENT_SCAN = 10_000  # a job type's runs are looked for among the newest jobs of all
P95_SAMPLE = 200  # completed attempts a type's p95 is taken over
P95_MINIMUM = 5  # fewer decide nothing
RATE_SAMPLE = 10_000  # attempts a schedule's (or an org's) failure rate is taken over
DEAD_SAMPLE = 1_000  # newest dead-letter jobs looked at
RUNNING_SAMPLE = 1_000  # running jobs looked at


@dataclass(frozen=True)
class Finding:
    """A condition that holds now."""

    key: str  # what it is about: job:NAME, schedule:ID, queue:NAME, run:JOB_ID
    summary: str  # one line, no job arguments
    details: dict[str, Any] = field(default_factory=dict)
    org_id: str | None = None


@dataclass(frozen=True)
class ActiveRule:
    """A rule as the engine evaluates it: its name, where it came from, its organisation
    (an API rule made by an organisation's key), and its definition."""

    name: str
    source: str  # config | code | api
    rule: AlertRule
    org: str | None = None

    @property
    def org_scope(self) -> str | None:
        """The organisation whose jobs and schedules the rule looks at (None: all)."""
        return self.org or self.rule.org


def findings(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    """The conditions of one rule that hold at ``now``."""
    return KINDS[active.rule.kind](app, active, now)


# -- the kinds ----------------------------------------------------------------------------
def _failures_in_a_row(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    count = rule.count or 1
    found = []
    for key, label, attempts in _runs(app, active, limit=count, scan=count + 10):
        if len(attempts) == count and all(a.outcome in FAILED_OUTCOMES for a in attempts):
            details = {
                "count": count,
                "last_error": attempts[0].error,
                "job_ids": [a.job_id for a in attempts],
            }
            found.append(Finding(key, f"{label} failed {count} times in a row", details))
    return found


def _failure_rate(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    since = now - timedelta(seconds=rule.window)
    counts: dict[tuple[str, str], list[int]] = {}
    if rule.schedule is None and active.org_scope is None:
        for name in _type_names(app, active):
            series = app.store.stats_series(since, queue=rule.queue, name=name)
            done = sum(p.completed for p in series)
            failed = sum(p.failed for p in series)
            counts[(f"job:{name}", name)] = [done, failed]
    else:
        for key, label, attempts in _runs(app, active, limit=RATE_SAMPLE, scan=RATE_SAMPLE):
            recent = [a for a in attempts if a.finished_at >= since]
            failed = sum(1 for a in recent if a.outcome in FAILED_OUTCOMES)
            counts[(key, label)] = [len(recent) - failed, failed]
    found = []
    threshold = rule.rate or 100.0
    for (key, label), (done, failed) in counts.items():
        runs = done + failed
        if runs >= rule.min_runs and failed * 100.0 / runs > threshold:
            percent = round(failed * 100.0 / runs, 1)
            summary = (
                f"{label}: {percent}% of {runs} runs failed in the last "
                f"{duration(rule.window)} (threshold {threshold:g}%)"
            )
            details = {"runs": runs, "failed": failed, "percent": percent, "window_s": rule.window}
            found.append(Finding(key, summary, details))
    return found


def _long_running(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    flt = _targeted(app, active, JobState.RUNNING, RUNNING_SAMPLE)
    if flt is None:
        return []
    p95s: dict[str, float | None] = {}
    found = []
    for job in app.store.list_jobs(flt):
        if job.started_at is None:
            continue
        ran = (now - job.started_at).total_seconds()
        limits = []
        if rule.longer_than is not None:
            limits.append(rule.longer_than)
        if rule.factor is not None:
            if job.name not in p95s:
                p95s[job.name] = _p95(app, job.name, active.org_scope)
            p95 = p95s[job.name]
            if p95 is not None:
                limits.append(rule.factor * p95)
        if limits and ran > min(limits):
            limit = min(limits)
            summary = (
                f"job {job.id} ({job.name}) has run for {duration(ran)} (limit {duration(limit)})"
            )
            details = {
                "job_id": job.id,
                "job": job.name,
                "queue": job.queue,
                "running_s": round(ran, 1),
                "limit_s": round(limit, 1),
                "worker_id": job.worker_id,
            }
            found.append(Finding(f"run:{job.id}", summary, details, job.org_id))
    return found


def _missed_schedule(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    schedule = _schedule(app, active)
    if schedule is None or not schedule.enabled:
        return []
    key, label = f"schedule:{schedule.id}", f"schedule {schedule.name}"
    org = schedule.org_id
    if rule.grace is not None:
        grace = timedelta(seconds=rule.grace)
        due = schedule.next_fire_at
        if due is not None and due < now - grace:
            summary = f"{label} was due at {_hm(due)} and has not fired (no scheduler?)"
            return [Finding(key, summary, {"due_at": due.isoformat(), "reason": "not fired"}, org)]
        missed = _missed_fire(app, schedule)
        if missed is not None:
            summary = (
                f"{label}: the fire time {_hm(missed.fire_time)} did not run "
                f"({missed.status.replace('_', ' ')})"
            )
            details: dict[str, Any] = {"due_at": missed.fire_time.isoformat(), "reason": "missed"}
            details["status"] = missed.status
            return [Finding(key, summary, details, org)]
        for job in app.store.schedule_jobs(schedule.id, 1):
            waiting = job.state in (JobState.QUEUED, JobState.SCHEDULED)
            if waiting and job.run_at < HOLD_UNTIL and job.run_at < now - grace:
                summary = f"{label}: the run due at {_hm(job.run_at)} has not started"
                details = {"due_at": job.run_at.isoformat(), "job_id": job.id}
                details["reason"] = "not started"
                return [Finding(key, summary, details, org)]
    if rule.no_success_for is not None:
        last = _last_success(app, schedule)
        since = last or schedule.created_at
        if since is not None and (now - since).total_seconds() > rule.no_success_for:
            when = f"since {_hm(last)}" if last else "ever"
            summary = f"{label} has not succeeded {when} (limit {duration(rule.no_success_for)})"
            details = {"last_success": None if last is None else last.isoformat()}
            details["reason"] = "no success"
            return [Finding(key, summary, details, org)]
    return []


def _queue_backlog(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    found = []
    for queue in app.store.list_queues(rule.queue):
        if rule.queue is None and queue.name == NOTIFY_QUEUE:
            continue  # (its own notifications would feed it; name the queue to watch it)
        reasons = []
        if rule.ready_above is not None and queue.ready > rule.ready_above:
            reasons.append(f"{queue.ready} jobs ready (limit {rule.ready_above})")
        oldest = queue.oldest_ready_at
        if rule.oldest_ready_above is not None and oldest is not None:
            age = (now - oldest).total_seconds()
            if age > rule.oldest_ready_above:
                reasons.append(
                    f"the oldest has waited {duration(age)} "
                    f"(limit {duration(rule.oldest_ready_above)})"
                )
        if reasons:
            details = {
                "queue": queue.name,
                "ready": queue.ready,
                "oldest_ready_at": None if oldest is None else oldest.isoformat(),
            }
            summary = f"queue {queue.name}: {'; '.join(reasons)}"
            found.append(Finding(f"queue:{queue.name}", summary, details))
    return found


def _dead_letter(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    flt = _targeted(app, active, JobState.FAILED, DEAD_SAMPLE)
    if flt is None:
        return []
    since = now - timedelta(seconds=rule.window)
    by_type: dict[str, list[int]] = defaultdict(list)
    errors: dict[str, str | None] = {}
    for job in app.store.list_jobs(flt):
        if job.finished_at is not None and job.finished_at >= since:
            by_type[job.name].append(job.id)
            errors.setdefault(job.name, job.error)
    found = []
    for name, ids in sorted(by_type.items()):
        summary = (
            f"{len(ids)} job(s) of {name} entered the dead-letter set in the last "
            f"{duration(rule.window)}"
        )
        details = {"job": name, "count": len(ids), "job_ids": ids[:20], "last_error": errors[name]}
        found.append(Finding(f"job:{name}", summary, details))
    return found


def _no_workers(app: Hourhand, active: ActiveRule, now: datetime) -> list[Finding]:
    rule = active.rule
    workers = [p for p in app.store.records.list_processes(ALIVE_WITHIN) if p.kind == "worker"]
    queues = [rule.queue] if rule.queue is not None else _known_queues(app)
    found = []
    for queue in queues:
        if not any(w.queues is None or queue in w.queues for w in workers):
            summary = f"queue {queue}: no live worker"
            found.append(Finding(f"queue:{queue}", summary, {"queue": queue}))
    return found


KINDS = {
    "failures_in_a_row": _failures_in_a_row,
    "failure_rate": _failure_rate,
    "long_running": _long_running,
    "missed_schedule": _missed_schedule,
    "queue_backlog": _queue_backlog,
    "dead_letter": _dead_letter,
    "no_workers": _no_workers,
}


# -- helpers ------------------------------------------------------------------------------
def _schedule(app: Hourhand, active: ActiveRule) -> Schedule | None:
    assert active.rule.schedule is not None
    return app.store.find_schedule(active.rule.schedule, active.org_scope)


def _targeted(app: Hourhand, active: ActiveRule, state: JobState, limit: int) -> JobFilter | None:
    """The jobs in ``state`` a rule's target names (queue, job type, organisation,
    schedule); None if its schedule does not exist."""
    rule = active.rule
    schedule_id = None
    if rule.schedule is not None:
        schedule = _schedule(app, active)
        if schedule is None:
            return None
        schedule_id = schedule.id
    return JobFilter(
        state=state,
        queue=rule.queue,
        name=rule.job,
        org_id=active.org_scope,
        schedule_id=schedule_id,
        limit=limit,
    )


def _type_names(app: Hourhand, active: ActiveRule) -> list[str]:
    """The job types a rule without a schedule looks at: its ``job``, or every type of the
    app and of the statistics (but hourhand's own notifications), in its queue if it has
    one."""
    rule = active.rule
    if rule.job is not None:
        return [rule.job]
    names = {n for n, spec in app.registry.items() if rule.queue in (None, spec.queue)}
    names |= {t.name for t in app.store.stats_totals() if rule.queue in (None, t.queue)}
    return sorted(n for n in names if not n.startswith("hourhand.notify"))


def _runs(
    app: Hourhand, active: ActiveRule, *, limit: int, scan: int
) -> list[tuple[str, str, list[RecentAttempt]]]:
    """(key, label, latest ``limit`` attempts) per schedule or job type the rule looks at:
    a schedule's among its newest ``scan`` jobs, a type's among the newest RECENT_SCAN."""
    rule = active.rule
    alerts = app.store.alerts
    if rule.schedule is not None:
        schedule = _schedule(app, active)
        if schedule is None:
            return []
        attempts = alerts.recent_attempts(schedule_id=schedule.id, limit=limit, scan=scan)
        return [(f"schedule:{schedule.id}", f"schedule {schedule.name}", attempts)]
    out = []
    for name in _type_names(app, active):
        attempts = alerts.recent_attempts(
            name=name, org_id=active.org_scope, limit=limit, scan=RECENT_SCAN
        )
        out.append((f"job:{name}", name, attempts))
    return out


def _p95(app: Hourhand, name: str, org_id: str | None) -> float | None:
    attempts = app.store.alerts.recent_attempts(
        name=name, org_id=org_id, limit=P95_SAMPLE, scan=RECENT_SCAN
    )
    durations = sorted(
        a.duration for a in attempts if a.outcome == "completed" and a.duration is not None
    )
    if len(durations) < P95_MINIMUM:
        return None
    return durations[min(len(durations) - 1, math.ceil(0.95 * len(durations)) - 1)]


def _missed_fire(app: Hourhand, schedule: Schedule) -> FireRecord | None:
    """The schedule's newest fire time, if nothing ran for it (the scheduler was down, its
    misfire policy did not catch it up, or the run could not be made) and no run has
    succeeded since, by cron or by hand (the ledger: docs/schedules.md)."""
    latest = app.store.latest_fires([schedule.id]).get(schedule.id)
    if latest is None or latest.status not in MISSED:
        return None
    success = _last_success(app, schedule)
    return latest if success is None or success < latest.recorded_at else None


def _last_success(app: Hourhand, schedule: Schedule) -> datetime | None:
    """When the schedule's newest successful run (by cron or by hand) ended, from its
    ledger: still known after the job is pruned, however many runs failed since."""
    return app.store.last_successes([schedule.id]).get(schedule.id)


def _known_queues(app: Hourhand) -> list[str]:
    """The queues the database knows (with jobs waiting or running, paused once, or counted
    by the job statistics): the same for every scheduler, whatever job types its own
    process registers (a rule must not say one thing in one scheduler and another in the
    next, or its alert would flap)."""
    names = {q.name for q in app.store.list_queues()}
    names |= {t.queue for t in app.store.stats_totals()}
    return sorted(names)


def _hm(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")
