"""Retention: deleting finished jobs, with their attempts, once they have been kept long
enough; by hand (``hh.prune``, ``hourhand prune``) or by the policy of ``[retention]``
(retention_config.py), which the system schedule ``hourhand.retention`` applies.

Deleting never holds long locks: jobs go in batches of ``batch_size``, each batch one short
transaction (PostgreSQL: one statement that locks the batch's rows with ``SKIP LOCKED``,
so a row another transaction holds is left for the next run, never waited for), with a
pause between batches so that other writers get the table. A batch walks the primary key
from where the previous one stopped, up to the newest job created before the cutoff (found
by a binary search over ids: ids follow creation, and a job cannot finish before it was
created), so a run reads about as many rows as it deletes, whatever the history kept.

Counts, statistics and metrics read the job statistics (the rollup), which pruning leaves
alone: ``hh.counts()`` keeps counting completed and cancelled jobs after they are gone; the
failed count, being the dead-letter set as it is, drops by the failed jobs pruned.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourhand import checks
from hourhand.errors import InvalidInput
from hourhand.jobs import JobContext, JobState
from hourhand.retention_config import (
    DEFAULT_ALERTS_DAYS,
    DEFAULT_BATCH,
    DEFAULT_CANCELLED_DAYS,
    DEFAULT_COMPLETED_DAYS,
    DEFAULT_FAILED_DAYS,
    DEFAULT_LEDGER_DAYS,
    DEFAULT_PAUSE,
    PRUNABLE_STATES,
    Days,
    QueueRetention,
    RetentionPolicy,
)
from hourhand.schedule_model import ScheduleSpec

if TYPE_CHECKING:
    from hourhand.app import Hourhand
    from hourhand.retention_config import RetentionSettings
    from hourhand.store import Store

logger = logging.getLogger(__name__)

BUILTIN_PREFIX = "hourhand."  # hourhand's own job types, registered on every app
RETENTION = "hourhand.retention"  # the job type, and the name of its system schedule
RETENTION_ENV = "HOURHAND_RETENTION_"  # variables that give [retention] settings
DAY = 86400.0  # seconds
PROGRESS_EVERY = 2.0  # seconds between progress writes of the retention job


@dataclass(frozen=True)
class Rule:
    """Jobs of ``states`` that finished over ``older_than`` seconds ago: of ``queue`` only,
    or (None) of every queue but ``except_queues`` (those have rules of their own)."""

    states: tuple[str, ...]
    older_than: float  # seconds
    queue: str | None = None
    except_queues: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "states": list(self.states),
            "queue": self.queue,
            "except_queues": list(self.except_queues),
            "older_than_days": round(self.older_than / DAY, 6),
        }

    def describe(self) -> str:
        where = f"queue {self.queue}" if self.queue is not None else "every queue"
        if self.except_queues:
            where += f" but {', '.join(self.except_queues)}"
        return f"{'/'.join(self.states)} in {where}"


@dataclass
class RuleReport:
    rule: Rule
    matched: dict[str, int] | None = None  # a dry run: jobs per state that qualify
    deleted: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = self.rule.to_dict()
        if self.matched is not None:
            out["matched"] = dict(sorted(self.matched.items()))
        out["deleted"] = self.deleted
        return out


@dataclass
class RetentionReport:
    """What a run deleted (or, dry, would delete), rule by rule, and how it went."""

    rules: list[RuleReport] = field(default_factory=list)
    dry_run: bool = False
    batches: int = 0
    longest_batch: float = 0.0  # seconds: the longest transaction of the run
    seconds: float = 0.0
    stopped: bool = False  # cancelled, timed out or shut down part-way (the next run goes on)
    alerts: dict[str, Any] | None = None  # alert history: days, deleted (None: kept)
    ledger: dict[str, Any] | None = None  # schedules' ledgers: days, deleted (None: kept)

    @property
    def deleted(self) -> int:
        return sum(r.deleted for r in self.rules)

    @property
    def matched(self) -> dict[str, int]:
        """Jobs per state that qualify (a dry run), over every rule."""
        total: dict[str, int] = {}
        for report in self.rules:
            for state, n in (report.matched or {}).items():
                if n:
                    total[state] = total.get(state, 0) + n
        return total

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dry_run": self.dry_run,
            "deleted": self.deleted,
            "rules": [r.to_dict() for r in self.rules],
            "batches": self.batches,
            "longest_batch_s": round(self.longest_batch, 4),
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "alerts": self.alerts,
            "ledger": self.ledger,
        }
        if self.dry_run:
            out["matched"] = dict(sorted(self.matched.items()))
        return out


def policy_rules(policy: RetentionPolicy) -> list[Rule]:
    """A policy as rules: per state, one for each queue with days of its own for it, one
    for the rest; states kept forever ("never") have none."""
    rules: list[Rule] = []
    for state in PRUNABLE_STATES:
        own = tuple(sorted(q for q, t in policy.queues.items() if state in t.given_states()))
        days = policy.days(state)
        if days is not None:
            rules.append(Rule((state,), days * DAY, None, own))
        for queue in own:
            queue_days = policy.days(state, queue)
            if queue_days is not None:
                rules.append(Rule((state,), queue_days * DAY, queue))
    return rules


def manual_rule(older_than: float | timedelta, states: Iterable[str] | str) -> Rule:
    """The one rule of ``hh.prune(older_than, states)``; InvalidInput names what is wrong."""
    if isinstance(older_than, timedelta):
        older_than = older_than.total_seconds()
    age = checks.seconds("older_than", older_than)
    if isinstance(states, str):
        states = (states,)
    wanted: list[str] = []
    for state in states:
        if state not in PRUNABLE_STATES:
            raise InvalidInput(
                f"only finished jobs can be pruned (completed, cancelled, failed), not {state!r}"
            )
        wanted.append(str(JobState(state)))
    return Rule(tuple(wanted), age)


class Pruner:
    """Runs rules against one store: counts (a dry run) or deletes, in batches."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = DEFAULT_BATCH,
        pause: float = DEFAULT_PAUSE,
        wait: Callable[[float], bool] | None = None,
        progress: Callable[[RetentionReport, int], None] | None = None,
    ) -> None:
        self.store = store
        self.batch_size = checks.integer("batch_size", batch_size, 1)
        self.pause = checks.seconds("pause", pause, maximum=60.0)
        # sleeps between batches; True: stop now (the job was cancelled or is shut down)
        self.wait = wait or _sleep
        self.progress = progress  # after each batch: the report so far, the rule's index

    def count(self, rules: Sequence[Rule]) -> RetentionReport:
        report = RetentionReport(dry_run=True)
        now = self.store.now()
        for rule in rules:
            before = now - timedelta(seconds=rule.older_than)
            matched = self.store.count_prunable(
                before,
                [JobState(s) for s in rule.states],
                queue=rule.queue,
                except_queues=rule.except_queues,
            )
            report.rules.append(RuleReport(rule, {s: matched.get(s, 0) for s in rule.states}))
        return report

    def prune(self, rules: Sequence[Rule]) -> RetentionReport:
        """Delete what the rules select, batch by batch; stops early (``stopped``) when
        ``wait`` says so. Every cutoff is the database's now at the start of the run."""
        report = RetentionReport()
        started = time.monotonic()
        now = self.store.now()
        pauses = False  # no pause before the first batch; after it, a stop is looked for
        for index, rule in enumerate(rules):
            before = now - timedelta(seconds=rule.older_than)
            rule_report = RuleReport(rule)
            report.rules.append(rule_report)
            upto = newest_created_before(self.store, before)
            after = 0
            while upto is not None and after < upto:
                if pauses and self.wait(self.pause):
                    report.stopped = True
                    break
                pauses = True
                began = time.monotonic()
                batch = self.store.prune_jobs(
                    before,
                    [JobState(s) for s in rule.states],
                    self.batch_size,
                    after_id=after,
                    upto_id=upto,
                    queue=rule.queue,
                    except_queues=rule.except_queues,
                )
                took = time.monotonic() - began
                report.batches += 1
                report.longest_batch = max(report.longest_batch, took)
                rule_report.deleted += batch.deleted
                if self.progress is not None:
                    self.progress(report, index)
                if batch.last_id is None or batch.found < self.batch_size:
                    break
                after = batch.last_id
            if report.stopped:
                break
        report.seconds = time.monotonic() - started
        return report


def newest_created_before(store: Store, before: datetime) -> int | None:
    """About the highest id of a job created before ``before`` (None: no such job), by a
    binary search over ids (a few primary key lookups). Ids follow creation only roughly
    (concurrent inserts), so a job just above the bound may also be that old: it is pruned
    by the next run. Nothing above the bound can qualify otherwise: a job finishes after it
    was created."""
    first = store.first_job_from(0)
    if first is None or first[1] >= before:
        return None
    low = first[0]  # created before ``before``
    high = store.last_job_id() or low
    while low < high:
        middle = (low + high + 1) // 2
        found = store.first_job_from(middle)
        if found is None or found[1] >= before or found[0] > high:
            high = middle - 1
        else:
            low = found[0]
    return low


# -- alert history -----------------------------------------------------------------------------


def prune_alert_history(
    store: Store, days: float | None, batch_size: int, wait: Callable[[float], bool], pause: float
) -> dict[str, Any] | None:
    """Delete the alerts resolved more than ``days`` ago (the history of
    ``hourhand_alerts``; open alerts are never deleted), in batches."""
    if days is None:
        return None
    before = store.now() - timedelta(days=days)
    deleted = 0
    while True:
        n = store.alerts.prune_alerts(before, batch_size)
        deleted += n
        if n < batch_size or wait(pause):
            break
    return {"older_than_days": days, "deleted": deleted}


def prune_ledger(
    store: Store, days: float | None, batch_size: int, wait: Callable[[float], bool], pause: float
) -> dict[str, Any] | None:
    """Delete the schedules' ledger entries of fire times more than ``days`` ago, schedule
    by schedule in batches; each schedule's newest success is kept (its last-success
    metric and the dead man's switch read it)."""
    if days is None:
        return None
    before = store.now() - timedelta(days=days)
    deleted = 0
    for schedule in store.list_schedules():
        while True:
            n = store.prune_fires(schedule.id, before, batch_size)
            deleted += n
            if n < batch_size:
                break
            if wait(pause):
                return {"older_than_days": days, "deleted": deleted}
    return {"older_than_days": days, "deleted": deleted}


# -- the job and its system schedule ------------------------------------------------------------


def retention_handler(app: Hourhand) -> Callable[..., dict[str, Any]]:
    """The handler of the ``hourhand.retention`` job type of ``app``: it prunes by the
    policy its arguments carry (the schedule passes ``[retention]`` whole) and returns
    what it deleted. Without arguments: the defaults of a ``[retention]`` table."""

    def retention(
        ctx: JobContext,
        completed_days: Days = DEFAULT_COMPLETED_DAYS,
        failed_days: Days = DEFAULT_FAILED_DAYS,
        cancelled_days: Days = DEFAULT_CANCELLED_DAYS,
        alerts_days: Days = DEFAULT_ALERTS_DAYS,
        ledger_days: Days = DEFAULT_LEDGER_DAYS,
        batch_size: int = DEFAULT_BATCH,
        pause: float = DEFAULT_PAUSE,
        queues: dict[str, QueueRetention] | None = None,
    ) -> dict[str, Any]:
        policy = RetentionPolicy(
            completed_days=completed_days,
            failed_days=failed_days,
            cancelled_days=cancelled_days,
            alerts_days=alerts_days,
            ledger_days=ledger_days,
            batch_size=batch_size,
            pause=pause,
            queues=queues or {},
        )
        return run_policy(app, policy, ctx).to_dict()

    return retention


def run_policy(app: Hourhand, policy: RetentionPolicy, ctx: JobContext | None) -> RetentionReport:
    """Prune by ``policy`` now (in the retention job, ``ctx``: stopping when it is
    cancelled, and writing its progress)."""
    wait = _sleep if ctx is None else ctx.cancel_event.wait
    rules = policy_rules(policy)
    written = time.monotonic()

    def progress(report: RetentionReport, index: int) -> None:
        nonlocal written
        if ctx is not None and time.monotonic() - written >= PROGRESS_EVERY:
            written = time.monotonic()
            percent = 100.0 * index / len(rules)
            ctx.progress(percent, f"{report.deleted} jobs deleted; {rules[index].describe()}")

    pruner = Pruner(
        app.store, batch_size=policy.batch_size, pause=policy.pause, wait=wait, progress=progress
    )
    report = pruner.prune(rules)
    if not report.stopped:
        report.alerts = prune_alert_history(
            app.store, policy.alerts_days, policy.batch_size, wait, policy.pause
        )
        report.ledger = prune_ledger(
            app.store, policy.ledger_days, policy.batch_size, wait, policy.pause
        )
    logger.info(
        "retention: deleted %d jobs in %d batches (longest %.3f s)%s",
        report.deleted,
        report.batches,
        report.longest_batch,
        "; stopped part-way" if report.stopped else "",
    )
    return report


def retention_schedule(settings: RetentionSettings) -> ScheduleSpec:
    """The system schedule that applies ``[retention]``: a config schedule named (and
    running the job type) ``hourhand.retention``, its arguments the policy."""
    return ScheduleSpec(
        name=RETENTION,
        job=RETENTION,
        cron=settings.schedule,
        tz=settings.tz,
        args=settings.job_args(),
        source="config",
        enabled=settings.enabled,
        queue=settings.queue,
    ).validated()


def retention_in_env() -> bool:
    """Whether a ``HOURHAND_RETENTION_*`` variable is set (then there is a policy, even
    without a config file)."""
    return any(k.upper().startswith(RETENTION_ENV) and v for k, v in os.environ.items())


def _sleep(seconds: float) -> bool:
    if seconds > 0:
        time.sleep(seconds)
    return False
