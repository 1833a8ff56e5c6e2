"""``hh.schedules``: create, change, trigger and inspect the schedules stored in the
database. The data (``ScheduleSpec``, ``Schedule``) is in schedule_model.py, below the
store; this manager sits above it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hourhand.errors import InvalidInput
from hourhand.humanize import plural
from hourhand.jobs import Job
from hourhand.schedule_model import (
    MAX_LISTED,
    OVERRIDABLE,
    Schedule,
    ScheduleExists,
    ScheduleNotFound,
    ScheduleSpec,
    daily,
    monthly,
    spec_next,
    weekly,
)
from hourhand.store.fires import FireRecord

if TYPE_CHECKING:
    from hourhand.app import Hourhand


# -- the manager ----------------------------------------------------------------------------


class Schedules:
    """``hh.schedules``: create, change and inspect schedules stored in the database."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app

    def create(
        self,
        name: str,
        job: str,
        cron: str,
        *,
        tz: str = "UTC",
        args: dict[str, Any] | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
        enabled: bool = True,
        **options: Any,
    ) -> Schedule:
        """Add a user schedule. Options: queue, priority, max_attempts, timeout, misfire,
        misfire_cap, catchup_window, overlap, jitter."""
        spec = ScheduleSpec(
            name=name,
            job=job,
            cron=cron,
            tz=tz,
            args=dict(args or {}),
            source="user",
            org_id=org_id,
            created_by=created_by,
            enabled=enabled,
            **_options(options),
        )
        return self.add(spec)

    def add(self, spec: ScheduleSpec) -> Schedule:
        """Store a validated spec (any source); the next fire time is computed now."""
        spec = self.check(spec)
        if spec.source == "user":
            self._refuse_system_name(spec.name, spec.org_id)
        now = self.app.store.now()
        next_fire = spec_next(spec, now) if spec.enabled else None
        return self.app.store.insert_schedule(spec, next_fire)

    def check(self, spec: ScheduleSpec) -> ScheduleSpec:
        spec = spec.validated()
        # the job type exists and takes the args (its runs will hold the secrets they need)
        self.app.spec(spec.job).check_args(spec.args, depth="config")
        return spec

    def get(self, schedule_id: int) -> Schedule:
        found = self.app.store.get_schedule(schedule_id)
        if found is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")
        return found

    def find(self, name: str, org_id: str | None = None) -> Schedule:
        """The schedule called ``name`` (in ``org_id``; None: code/config/system ones).

        When there is none there but there are schedules of that name elsewhere, the
        ScheduleNotFound says where (``.elsewhere``: their org ids, None for outside any)."""
        found = self.app.store.find_schedule(name, org_id)
        if found is None:
            where = f" in organisation {org_id!r}" if org_id else ""
            elsewhere = [s.org_id for s in self.app.store.list_schedules() if s.name == name]
            raise ScheduleNotFound(
                f"no schedule named {name!r}{where}{_elsewhere(elsewhere)}", elsewhere
            )
        return found

    def of_job(self, job: Job) -> Schedule | None:
        """The schedule that made ``job`` (None if no schedule did, or it was deleted)."""
        if job.schedule_id is None:
            return None
        return self.app.store.get_schedule(job.schedule_id)

    def update(self, schedule_id: int, **changes: Any) -> Schedule:
        """Change a user schedule (any ScheduleSpec field; names stay unique). A new cron
        or zone recomputes the next fire time from now. A config schedule's cron, zone,
        arguments and policies (OVERRIDABLE) can be changed too: the change is kept as an
        operator's override that every sync applies over the file until :meth:`reset`.
        Code schedules change in the code; an operator can only enable or disable them."""
        current = self.get(schedule_id)
        self._checked(current, changes)  # before anything is changed: a bad value changes nothing
        enabled = changes.pop("enabled", None)
        if enabled is not None:
            self._set_enabled(current, bool(enabled))
            if not changes:
                return self.get(schedule_id)
            current = self.get(schedule_id)
        spec_fields = {k: getattr(current, k) for k in ScheduleSpec.__dataclass_fields__}
        spec = self.check(ScheduleSpec(**{**spec_fields, **changes}))
        values = {k: getattr(spec, k) for k in changes}
        if current.source == "config":  # kept over the file's values by every sync
            values["overrides"] = {**current.overrides, **values}
        if {"cron", "tz", "jitter"} & set(changes):
            now = self.app.store.now()
            values["next_fire_at"] = spec_next(spec, now) if spec.enabled else None
        return self._store_update(schedule_id, values)

    def preview_update(self, schedule_id: int, **changes: Any) -> Schedule:
        """The schedule as :meth:`update` would make it, checked the same way; nothing is
        changed (its runtime fields, the next fire time among them, are the current ones)."""
        current = self.get(schedule_id)
        spec = self._checked(current, changes)
        values = {k: getattr(spec, k) for k in changes if k != "enabled" and spec is not None}
        if "enabled" in changes:
            values["enabled"] = bool(changes["enabled"])
        return replace(current, **values)

    def _checked(self, current: Schedule, changes: dict[str, Any]) -> ScheduleSpec | None:
        """The spec ``changes`` make of ``current``, checked (InvalidInput otherwise); None
        when they only enable or disable it (the job type is not looked at then)."""
        unknown = set(changes) - set(ScheduleSpec.__dataclass_fields__) - {"name"}
        if unknown or "source" in changes or "org_id" in changes:
            bad = sorted(unknown | ({"source", "org_id"} & set(changes)))
            raise InvalidInput(f"cannot change {', '.join(bad)} of a schedule")
        if current.source == "code" and set(changes) - {"enabled"}:
            raise InvalidInput(
                f"schedule {current.name!r} is defined in code: change it there "
                "(an operator can enable or disable it)"
            )
        if current.source == "config" and set(changes) - {"enabled", *OVERRIDABLE}:
            fixed = ", ".join(sorted(set(changes) - {"enabled", *OVERRIDABLE}))
            raise InvalidInput(
                f"schedule {current.name!r} is defined in the config file: its {fixed} change "
                f"there (an operator may change {', '.join(OVERRIDABLE)}, or enable or "
                "disable it)"
            )
        defined = {k: v for k, v in changes.items() if k != "enabled"}
        if not defined:
            return None
        if "name" in defined:
            self._refuse_system_name(defined["name"], current.org_id)
        spec_fields = {k: getattr(current, k) for k in ScheduleSpec.__dataclass_fields__}
        return self.check(ScheduleSpec(**{**spec_fields, **defined}))

    def enable(self, schedule_id: int) -> Schedule:
        """Resume from now on: fire times missed while paused are not caught up. On a
        code or config schedule this is an operator's override, kept across syncs."""
        return self._set_enabled(self.get(schedule_id), True)

    def disable(self, schedule_id: int) -> Schedule:
        """Pause. On a code or config schedule this is an operator's override, kept across
        syncs until :meth:`reset`."""
        return self._set_enabled(self.get(schedule_id), False)

    def reset(self, schedule_id: int) -> Schedule:
        """Drop an operator's enable/disable, and a config schedule's edits: follow the
        code or config definition again (the file's values come back at once if this app
        read the file, else at the next scheduler's sync)."""
        current = self.get(schedule_id)
        if current.overrides:
            values: dict[str, Any] = {"overrides": {}}
            spec = self.app.config_schedules.get(current.name)
            if spec is not None and current.org_id is None:
                values |= {k: getattr(spec, k) for k in current.overrides if k in OVERRIDABLE}
                if {"cron", "tz", "jitter"} & set(current.overrides) and current.enabled:
                    merged = replace(spec, enabled=True)
                    values["next_fire_at"] = spec_next(merged, self.app.store.now())
            current = self._store_update(schedule_id, values)
        return self._apply_enabled(current, current.defined_enabled, None, current.defined_enabled)

    def _set_enabled(self, current: Schedule, enabled: bool) -> Schedule:
        if current.source == "user":  # the user owns the definition itself
            return self._apply_enabled(current, enabled, None, enabled)
        override = None if enabled == current.defined_enabled else enabled
        return self._apply_enabled(current, enabled, override, current.defined_enabled)

    def _apply_enabled(
        self, current: Schedule, enabled: bool, override: bool | None, defined: bool
    ) -> Schedule:
        """Needs no app: the job type is not looked at, only the cron expression."""
        values: dict[str, Any] = {
            "enabled": enabled,
            "enabled_override": override,
            "defined_enabled": defined,
        }
        if enabled != current.enabled or (enabled and current.next_fire_at is None):
            values["next_fire_at"] = spec_next(current, self.app.store.now()) if enabled else None
        return self._store_update(current.id, values)

    def _store_update(self, schedule_id: int, values: dict[str, Any]) -> Schedule:
        updated = self.app.store.update_schedule(schedule_id, values)
        if updated is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")
        return updated

    def _refuse_system_name(self, name: str, org_id: str | None) -> None:
        """A user schedule outside any organisation may not take the name of a code or
        config schedule: the code one could then never be synced, and never run."""
        if org_id is None and name in {s.name for s in self.app.system_schedules()}:
            raise ScheduleExists(
                f"a schedule named {name!r} is defined in your app's code or config file; "
                "choose another name"
            )

    def delete(self, schedule_id: int) -> None:
        if not self.app.store.delete_schedule(schedule_id):
            raise ScheduleNotFound(f"no schedule with id {schedule_id}")

    def trigger(self, schedule_id: int, *, created_by: str | None = None) -> int:
        """Run the schedule's job now, outside its cron times; returns the job id. The run
        is in the schedule's ledger as 'triggered'."""
        schedule = self.get(schedule_id)
        job = self.app.new_job(
            schedule.job,
            schedule.args,
            queue=schedule.queue,
            priority=schedule.priority,
            max_attempts=schedule.max_attempts,
            timeout=schedule.timeout,
            org_id=schedule.org_id,
            created_by=created_by or schedule.created_by,
            schedule_id=schedule.id,
        )
        return self.app.store.trigger_schedule(job)

    def next_fires(
        self, schedule_id: int, count: int = 5, *, after: datetime | None = None
    ) -> list[datetime]:
        """The coming fire times (UTC), after ``after`` (default: now, by the database)."""
        schedule = self.get(schedule_id)
        return schedule.parsed.next_n(after or self.app.store.now(), count)

    def runs(self, schedule_id: int, limit: int = 50) -> list[Job]:
        """The schedule's jobs, newest first."""
        self.get(schedule_id)
        return self.app.store.schedule_jobs(schedule_id, limit)

    def fires(
        self, schedule_id: int, limit: int = 50, *, before: datetime | None = None
    ) -> list[FireRecord]:
        """The schedule's ledger: an entry per fire time (and per run made by hand), newest
        first, those before ``before`` (to page on: the last fire time of a page)."""
        self.get(schedule_id)
        return self.app.store.schedule_fires(schedule_id, limit, before)

    # last: inside the class, later annotations would take ``list`` for this method
    def list(self, *, org_id: str | None = None, source: str | None = None) -> list[Schedule]:
        """Schedules, by name; ``org_id`` limits to one organisation's."""
        return self.app.store.list_schedules(org_id=org_id, source=source)


def _elsewhere(org_ids: list[str | None]) -> str:
    """Where else schedules of a name are, for a not-found message."""
    if not org_ids:
        return ""
    orgs = sorted(o for o in org_ids if o is not None)
    parts = []
    if orgs:
        listed = ", ".join(repr(o) for o in orgs[:MAX_LISTED])
        if len(orgs) > MAX_LISTED:
            listed += f" and {len(orgs) - MAX_LISTED} more"
        have = "has" if len(orgs) == 1 else "have"
        parts.append(f"{plural(len(orgs), 'organisation')} {have} one: {listed}")
    if len(orgs) < len(org_ids):
        parts.append("there is one outside any organisation")
    return "; " + "; ".join(parts)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    allowed = set(OVERRIDABLE) - {"cron", "tz", "args"}  # the schedule's options
    unknown = set(options) - allowed
    if unknown:
        raise InvalidInput(
            f"unknown schedule options: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )
    return options


__all__ = [
    "Schedule",
    "ScheduleExists",
    "ScheduleNotFound",
    "ScheduleSpec",
    "Schedules",
    "daily",
    "monthly",
    "weekly",
]
