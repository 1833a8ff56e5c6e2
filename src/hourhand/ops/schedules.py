"""Schedules, as operators see them: list, show, create, change, delete, enable, disable,
trigger, their runs (the ledger of fire times), and the cron preview. An organisation's actor
sees and changes only its organisation's schedules; system schedules (code, config, or
outside any organisation) are changed by admins only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourhand import checks
from hourhand.cron import Cron, zone_warning
from hourhand.errors import InvalidInput
from hourhand.jobs import Job
from hourhand.ops.actor import Actor, Role
from hourhand.ops.jobs import may_use_type
from hourhand.ops.retention import check_cluster_job
from hourhand.schedule_model import OVERRIDABLE, Schedule, ScheduleNotFound
from hourhand.store import FireRecord
from hourhand.store.fires import RAN

if TYPE_CHECKING:
    from hourhand.ops import Operations

MAX_PREVIEW = 100
MAX_RUNS = 1000
DEFAULT_RUNS = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MAX_CURSOR = (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // MICROSECOND
RATE_WINDOW = 20  # ledger entries a success rate looks at (the newest)
MAX_RATE_WINDOW = 1000


@dataclass(frozen=True)
class Run:
    """One entry of a schedule's ledger, with its job as the jobs table holds it now."""

    fire: FireRecord
    job: Job | None  # the job it names, if it still exists (None: no job, or pruned)

    @property
    def own_job(self) -> Job | None:
        """The job of the entry's own run (not the run a 'merged' one was folded into)."""
        return self.job if self.fire.status in RAN else None

    @property
    def state(self) -> str | None:
        """The run's state: its job's now, else how it ended (the ledger's copy, which
        outlives the job); None when the fire time made no run of its own."""
        if self.own_job is not None:
            return str(self.own_job.state)
        return self.fire.outcome if self.fire.status in RAN else None


@dataclass(frozen=True)
class RunPage:
    runs: list[Run]  # newest fire time first
    next_cursor: str | None  # None: this is the last page


def run_cursor(fire_time: datetime) -> str:
    """The cursor of a page of runs that starts below ``fire_time``: its microseconds since
    the epoch."""
    return str((fire_time - EPOCH) // MICROSECOND)


def runs_before(cursor: str | None) -> datetime | None:
    """The fire time a cursor continues below (InvalidInput for one no page gave out)."""
    if cursor is None:
        return None
    if re.fullmatch(r"[0-9]{1,20}", cursor) is None or not 0 < int(cursor) <= MAX_CURSOR:
        raise InvalidInput(f"bad cursor {cursor!r}: use the next_cursor of a previous page")
    return EPOCH + int(cursor) * MICROSECOND


@dataclass(frozen=True)
class SuccessRate:
    """How a schedule's newest runs ended, from its ledger (which outlives pruned jobs)."""

    finished: int  # runs that ended (completed, failed or cancelled) among the entries read
    completed: int  # of those, the ones that completed

    @property
    def percent(self) -> float | None:
        """Completed runs in percent of the finished ones (None: none finished yet)."""
        return None if self.finished == 0 else 100.0 * self.completed / self.finished


@dataclass(frozen=True)
class Fire:
    """One coming fire time of a preview."""

    utc: datetime
    local: datetime  # in the expression's zone
    dst: str | None  # None, or how a DST change moves this fire (a sentence)


@dataclass(frozen=True)
class CronPreview:
    expression: str  # normalized
    tz: str
    description: str  # the expression in words
    fires: list[Fire]
    warning: str | None  # e.g. a zone that is a fixed offset, without DST


class ScheduleOps:
    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.app = ops.app

    # -- reads ----------------------------------------------------------------------------
    def get(self, actor: Actor, schedule_id: int) -> Schedule:
        checks.integer("schedule id", schedule_id, 1, checks.MAX_ID)
        found = self.app.store.get_schedule(schedule_id)
        if found is None or not actor.sees(found.org_id):
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")
        return found

    def find(self, actor: Actor, name: str, org_id: str | None = None) -> Schedule:
        """The schedule called ``name`` in ``org_id`` (None: outside any organisation);
        ScheduleNotFound says where else that name is, among what the actor may see."""
        if actor.org_id is None:
            return self.app.schedules.find(name, org_id)
        if org_id not in (None, actor.org_id):
            raise ScheduleNotFound(f"no schedule named {name!r} in organisation {org_id!r}")
        try:
            return self.app.schedules.find(name, actor.org_id)
        except ScheduleNotFound:  # without naming where else the name is: other orgs'
            raise ScheduleNotFound(f"no schedule named {name!r}") from None

    def next_fires(
        self, actor: Actor, schedule_id: int, count: int = 5, after: datetime | None = None
    ) -> list[datetime]:
        """The schedule's coming fire times (UTC), after ``after`` (default: now)."""
        checks.integer("count", count, 1, MAX_PREVIEW * 10)
        schedule = self.get(actor, schedule_id)
        return self.app.schedules.next_fires(schedule.id, count, after=after)

    def runs(
        self,
        actor: Actor,
        schedule_id: int,
        limit: int = DEFAULT_RUNS,
        cursor: str | None = None,
    ) -> RunPage:
        """The schedule's ledger, newest fire time first, a page at a time: what became of
        each fire time (and each run made by hand), with the run's job as it is now."""
        checks.integer("limit", limit, 1, MAX_RUNS)
        before = runs_before(cursor)
        schedule = self.get(actor, schedule_id)
        fires = self.app.schedules.fires(schedule.id, limit + 1, before=before)
        more = len(fires) > limit
        fires = fires[:limit]
        ids = sorted({f.job_id for f in fires if f.job_id is not None})
        jobs = {j.id: j for j in self.app.store.get_jobs(ids)} if ids else {}
        runs = [Run(f, None if f.job_id is None else jobs.get(f.job_id)) for f in fires]
        return RunPage(runs, run_cursor(fires[-1].fire_time) if more and fires else None)

    def success_rates(
        self, actor: Actor, schedules: list[Schedule], last: int = RATE_WINDOW
    ) -> dict[int, SuccessRate]:
        """Per schedule (listed by the caller, so not looked up again): how its runs among
        the ``last`` newest ledger entries ended. One index read per schedule; schedules
        the actor may not see are left out."""
        checks.integer("last", last, 1, MAX_RATE_WINDOW)
        out: dict[int, SuccessRate] = {}
        for schedule in schedules:
            if not actor.sees(schedule.org_id):
                continue
            fires = self.app.store.schedule_fires(schedule.id, last, None)
            ended = [f for f in fires if f.status in RAN and f.outcome is not None]
            out[schedule.id] = SuccessRate(len(ended), sum(f.succeeded for f in ended))
        return out

    def preview(
        self,
        expression: str,
        tz: str = "UTC",
        count: int = 5,
        after: datetime | None = None,
    ) -> CronPreview:
        """The next ``count`` fire times in the zone and in UTC, the expression in words,
        and which fires a DST change moves."""
        checks.integer("count", count, 1, MAX_PREVIEW)
        cron = Cron.parse(expression, tz)
        start = after or datetime.now(UTC)
        times = cron.next_n(start, count)  # fewer near the calendar's end (year 9999)
        fires = [Fire(f, f.astimezone(cron.zone), _dst_note(cron, f)) for f in times]
        return CronPreview(cron.expr, cron.tz, cron.describe(), fires, zone_warning(tz))

    # -- actions --------------------------------------------------------------------------
    def create(
        self,
        actor: Actor,
        name: str,
        job: str,
        cron: str,
        *,
        tz: str = "UTC",
        args: dict[str, Any] | None = None,
        org_id: str | None = None,
        enabled: bool = True,
        created_by: str | None = None,
        **options: Any,
    ) -> Schedule:
        """A user schedule; an organisation's actor creates it in its organisation, and
        one outside any organisation is a system schedule (admins only)."""
        actor.require(Role.OPERATOR, "creating a schedule")
        if actor.org_id is not None:
            if org_id not in (None, actor.org_id):
                raise ScheduleNotFound(f"no organisation {org_id!r}")
            org_id = actor.org_id
        if org_id is None:
            actor.require(Role.ADMIN, "creating a schedule outside any organisation")
        check_cluster_job(actor, job, org_id)
        may_use_type(actor, self.app.spec(job), "scheduling")
        schedule = self.app.schedules.create(
            name,
            job,
            cron,
            tz=tz,
            args=args,
            org_id=org_id,
            created_by=created_by,
            enabled=enabled,
            **options,
        )
        self.ops.record(
            actor, "schedule.create", "schedule", schedule.id, org_id, {"after": _fields(schedule)}
        )
        return schedule

    def update(self, actor: Actor, schedule_id: int, **changes: Any) -> Schedule:
        least = Role.OPERATOR if set(changes) <= {"enabled"} else Role.ADMIN
        current = self._changeable(actor, schedule_id, "changing a schedule", least)
        check_cluster_job(actor, changes.get("job", current.job), current.org_id)
        if set(changes) - {"enabled"}:
            may_use_type(actor, self.app.spec(changes.get("job", current.job)), "scheduling")
        after = self.app.schedules.update(current.id, **changes)
        before_fields, after_fields = _fields(current), _fields(after)
        changed = {k for k in after_fields if before_fields.get(k) != after_fields[k]}
        self.ops.record(
            actor,
            "schedule.update",
            "schedule",
            current.id,
            current.org_id,
            {
                "before": {k: before_fields[k] for k in sorted(changed)},
                "after": {k: after_fields[k] for k in sorted(changed)},
            },
        )
        return after

    def check_update(self, actor: Actor, schedule_id: int, **changes: Any) -> Schedule:
        """The schedule as ``update`` with these changes would make it, changing nothing
        (a form's "review" step): the same permission and value checks, InvalidInput for
        a bad value."""
        least = Role.OPERATOR if set(changes) <= {"enabled"} else Role.ADMIN
        current = self._changeable(actor, schedule_id, "changing a schedule", least)
        check_cluster_job(actor, changes.get("job", current.job), current.org_id)
        if set(changes) - {"enabled"}:
            may_use_type(actor, self.app.spec(changes.get("job", current.job)), "scheduling")
        return self.app.schedules.preview_update(current.id, **changes)

    def delete(self, actor: Actor, schedule_id: int) -> None:
        current = self._changeable(actor, schedule_id, "deleting a schedule")
        if current.source != "user":
            raise InvalidInput(
                f"schedule {current.name!r} comes from {current.source}: remove it there"
            )
        self.app.schedules.delete(current.id)
        self.ops.record(
            actor,
            "schedule.delete",
            "schedule",
            current.id,
            current.org_id,
            {"before": _fields(current)},
        )

    def enable(self, actor: Actor, schedule_id: int) -> Schedule:
        return self._set_enabled(actor, schedule_id, True)

    def disable(self, actor: Actor, schedule_id: int) -> Schedule:
        return self._set_enabled(actor, schedule_id, False)

    def reset(self, actor: Actor, schedule_id: int) -> Schedule:
        """Drop an operator's enable/disable of a code or config schedule."""
        current = self._changeable(actor, schedule_id, "resetting a schedule", Role.OPERATOR)
        after = self.app.schedules.reset(current.id)
        self.ops.record(actor, "schedule.reset", "schedule", current.id, current.org_id, None)
        return after

    def trigger(self, actor: Actor, schedule_id: int) -> Job:
        """Run the schedule's job now; returns the job."""
        current = self._changeable(actor, schedule_id, "triggering a schedule", Role.OPERATOR)
        job_id = self.app.schedules.trigger(current.id)
        self.ops.record(
            actor, "schedule.trigger", "schedule", current.id, current.org_id, {"job": job_id}
        )
        return self.app.get_job(job_id)

    # -- helpers --------------------------------------------------------------------------
    def _set_enabled(self, actor: Actor, schedule_id: int, enabled: bool) -> Schedule:
        verb = "enabling" if enabled else "disabling"
        current = self._changeable(actor, schedule_id, f"{verb} a schedule", Role.OPERATOR)
        after = (self.app.schedules.enable if enabled else self.app.schedules.disable)(current.id)
        action = "schedule.enable" if enabled else "schedule.disable"
        self.ops.record(actor, action, "schedule", current.id, current.org_id, None)
        return after

    def _changeable(
        self, actor: Actor, schedule_id: int, action: str, least: Role = Role.ADMIN
    ) -> Schedule:
        """The schedule, if ``actor`` may act on it: an organisation's as an operator; one
        outside any organisation (code, config, or a cluster user schedule) with the role
        ``least`` (operators trigger, enable and disable them; admins change their
        definition or delete them)."""
        actor.require(Role.OPERATOR, action)
        current = self.get(actor, schedule_id)
        if current.org_id is None:
            actor.require(least, f"{action} outside any organisation")
        return current

    # last: inside the class, later annotations would take ``list`` for this method
    def list(
        self, actor: Actor, *, org_id: str | None = None, source: str | None = None
    ) -> list[Schedule]:
        if actor.asks_elsewhere(org_id):
            return []
        return self.app.schedules.list(org_id=actor.scope(org_id), source=source)


def _fields(schedule: Schedule) -> dict[str, Any]:
    """A schedule's definition, JSON-ready, for the audit log's before and after."""
    fields = {key: getattr(schedule, key) for key in ("name", "job", "enabled", *OVERRIDABLE)}
    # args may hold secrets (tokens, addresses) and the audit log is kept: their names only
    fields["args"] = sorted(schedule.args)
    return fields


def _dst_note(cron: Cron, fire: datetime) -> str | None:
    """How a DST change moves this fire, if it does: a wall time the expression names that
    the change skips fires right after the gap; a repeated wall time fires once for a fixed
    time (``30 2 * * *``) and in both hours for a wildcard hour (``0 * * * *``)."""
    local = fire.astimezone(cron.zone)
    wall = local.replace(tzinfo=None)
    as_utc = Cron.parse(cron.expr, "UTC")
    matches = as_utc.next(wall.replace(tzinfo=UTC) - timedelta(minutes=1)) == wall.replace(
        tzinfo=UTC
    )
    if not matches:
        return f"moved by a DST change: the time it names is skipped; runs at {local:%H:%M %Z}"
    other = wall.replace(fold=1 - local.fold).replace(tzinfo=cron.zone)
    if other.utcoffset() == local.utcoffset():
        return None
    other_utc = other.astimezone(UTC)
    if cron.next(other_utc - timedelta(microseconds=1)) == other_utc:
        return f"{local:%H:%M} happens twice on this day (DST ends): it runs in both hours"
    return f"{local:%H:%M} happens twice on this day (DST ends): it runs once"
