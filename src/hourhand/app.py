"""Hourhand: the registry of job types and the enqueue side of the API."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hourhand import checks
from hourhand.checks import MAX_ID
from hourhand.config import load_schedules, option_names
from hourhand.errors import (
    ConfigurationError,
    InvalidInput,
    JobNotFound,
    JobStateError,
    UnknownJobType,
)
from hourhand.jobs import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    DEFAULT_QUEUE,
    FINAL_STATES,
    MAX_ATTEMPTS,
    Attempt,
    Job,
    JobSpec,
    JobState,
    NewJob,
    check_priority,
    check_timeout,
    encode_args,
)
from hourhand.ratelimits import RateLimit, RateUse
from hourhand.retry import DEFAULT_RETRY, Retry
from hourhand.schedules import DEFAULT_MISFIRE, DEFAULT_OVERLAP, Schedules, ScheduleSpec
from hourhand.store import DEFAULT_DATABASE, JobFilter, QueueInfo, Store, open_store

if TYPE_CHECKING:
    from hourhand.scheduler import Scheduler
    from hourhand.worker import Worker

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

MAX_KEY_LENGTH = 1000  # characters in a unique key


def database_from_env() -> str:
    return os.environ.get("HOURHAND_DATABASE") or DEFAULT_DATABASE


class Hourhand:
    """The application: job types registered in code, and the jobs database.

    ``Hourhand()`` uses ``HOURHAND_DATABASE`` or ``sqlite:///hourhand.db``. The database is
    opened (and migrated, unless ``auto_migrate=False``) on first use.
    """

    def __init__(self, database: str | None = None, *, auto_migrate: bool = True) -> None:
        self.database_url = database or database_from_env()
        self.auto_migrate = auto_migrate
        self.registry: dict[str, JobSpec] = {}
        self.code_schedules: dict[str, ScheduleSpec] = {}  # from @hh.cron
        self.config_schedules: dict[str, ScheduleSpec] = {}  # from hourhand.toml
        self.config_path: Path | None = None  # the config file read, if any
        self.schedules = Schedules(self)
        self._store: Store | None = None
        self._lock = threading.Lock()

    # -- the database ---------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    store = open_store(self.database_url)
                    if self.auto_migrate:
                        try:
                            store.migrate()
                        except BaseException:
                            store.close()
                            raise
                    self._store = store
        return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- job types ------------------------------------------------------------------------
    def job(
        self,
        name: str | None = None,
        *,
        queue: str = DEFAULT_QUEUE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry: Retry = DEFAULT_RETRY,
        timeout: float | None = None,
        concurrency: int | None = None,
        priority: int = DEFAULT_PRIORITY,
        rate_limit: RateLimit | tuple[int, float] | str | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function (sync or async) as a job type.

        Its first parameter is the :class:`JobContext`; the job's args are passed as keyword
        arguments. ``concurrency`` caps how many run at once across all workers;
        ``rate_limit`` how many start in any period across all workers: ``(100, 60)``,
        ``RateLimit(100, per=60)`` or ``"100/m"``."""

        def register(fn: F) -> F:
            job_name = name or fn.__name__
            what = f"job {job_name!r}: rate_limit"
            rate = None if rate_limit is None else RateLimit.parse(rate_limit, what)
            spec = JobSpec(
                name=job_name,
                handler=fn,
                queue=_check_name("queue", queue),
                max_attempts=1 if retry.kind == "none" else max_attempts,
                retry=retry,
                timeout=timeout,
                concurrency=concurrency,
                priority=check_priority(priority),
                rate_limit=rate,
            )
            if spec.name in self.registry:
                raise InvalidInput(f"job type {spec.name!r} is already registered")
            self.registry[spec.name] = spec
            return fn

        return register

    def cron(
        self,
        expr: str,
        *,
        name: str | None = None,
        tz: str = "UTC",
        args: Mapping[str, Any] | None = None,
        enabled: bool = True,
        misfire: str = DEFAULT_MISFIRE,
        overlap: str = DEFAULT_OVERLAP,
        jitter: float = 0.0,
        queue: str = DEFAULT_QUEUE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry: Retry = DEFAULT_RETRY,
        timeout: float | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> Callable[[F], F]:
        """Register the decorated function as a job type that runs on a cron schedule
        (``expr`` in zone ``tz``); the job type and the schedule share ``name``."""

        def register(fn: F) -> F:
            job_name = name or fn.__name__
            spec = ScheduleSpec(
                name=job_name,
                job=job_name,
                cron=expr,
                tz=tz,
                args=dict(args or {}),
                source="code",
                enabled=enabled,
                misfire=misfire,
                overlap=overlap,
                jitter=jitter,
            ).validated()  # a bad expression or zone fails at import, with its message
            if job_name in self.code_schedules:
                raise InvalidInput(f"schedule {job_name!r} is already registered")
            self.job(
                job_name,
                queue=queue,
                max_attempts=max_attempts,
                retry=retry,
                timeout=timeout,
                priority=priority,
            )(fn)
            self.registry[job_name].check_args(spec.args)
            self.code_schedules[job_name] = spec
            return fn

        return register

    def load_config(self, path: str | Path) -> list[ScheduleSpec]:
        """Read the schedules of a config file (hourhand.toml); they are synced into the
        database when a scheduler starts. Only an app that read a config file adds,
        changes or removes config schedules: one that read none leaves them alone.

        Every schedule's job type must be registered, and every key that is not an option
        must be a parameter of its handler: ConfigurationError names file, table and key."""
        entries = load_schedules(path)
        for entry in entries:
            spec = self.registry.get(entry.spec.job)
            if spec is None:
                known = ", ".join(sorted(self.registry)) or "none"
                raise ConfigurationError(
                    f"{entry.where}: unknown job type {entry.spec.job!r} (registered: {known})"
                )
            for key in entry.extra_keys:
                if not spec.accepts(key):
                    raise ConfigurationError(
                        f"{entry.where}: unknown key {key!r}: not a schedule option "
                        f"({', '.join(option_names())}) and not a parameter of "
                        f"{entry.spec.job!r}'s handler"
                    )
            try:
                spec.check_args(entry.spec.args)
            except InvalidInput as exc:
                raise ConfigurationError(f"{entry.where}: {exc}") from None
        self.config_schedules = {entry.spec.name: entry.spec for entry in entries}
        self.config_path = Path(path)
        return [entry.spec for entry in entries]

    def system_schedules(self) -> list[ScheduleSpec]:
        """Code and config schedules (a config entry wins over code of the same name)."""
        return list({**self.code_schedules, **self.config_schedules}.values())

    def spec(self, name: str) -> JobSpec:
        try:
            return self.registry[name]
        except KeyError:
            known = ", ".join(sorted(self.registry)) or "none"
            raise UnknownJobType(f"unknown job type {name!r} (registered: {known})") from None

    # -- enqueue --------------------------------------------------------------------------
    def enqueue(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        unique_key: str | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
    ) -> int:
        """Add a job; returns its id. Durable when it returns.

        With ``unique_key``, while a job of this type (and org) with the same key is
        waiting or running, its id is returned and nothing is added."""
        job = self.new_job(
            name,
            args,
            delay=delay,
            run_at=run_at,
            priority=priority,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
            unique_key=unique_key,
            org_id=org_id,
            created_by=created_by,
        )
        return self.store.insert_jobs([job])[0]

    def enqueue_many(
        self,
        name: str,
        args_list: Iterable[Mapping[str, Any]],
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
    ) -> list[int]:
        """Add one job of type ``name`` per args mapping, in one statement; ids in order."""
        jobs = [
            self.new_job(
                name,
                args,
                delay=delay,
                run_at=run_at,
                priority=priority,
                queue=queue,
                max_attempts=max_attempts,
                timeout=timeout,
                org_id=org_id,
                created_by=created_by,
            )
            for args in args_list
        ]
        return self.store.insert_jobs(jobs) if jobs else []

    async def enqueue_async(
        self, name: str, args: Mapping[str, Any] | None = None, **options: Any
    ) -> int:
        """:meth:`enqueue` for async callers (the database call runs in a thread)."""
        return await asyncio.to_thread(self.enqueue, name, args, **options)

    async def enqueue_many_async(
        self, name: str, args_list: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[int]:
        return await asyncio.to_thread(self.enqueue_many, name, list(args_list), **options)

    def new_job(
        self,
        name: str,
        args: Mapping[str, Any] | None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        unique_key: str | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
        schedule_id: int | None = None,
        fire_time: datetime | None = None,
    ) -> NewJob:
        """Validate an enqueue request against the registry; raise a clear error if wrong."""
        spec = self.spec(name)
        args_json = encode_args(name, args)
        spec.check_args(args or {})
        if max_attempts is not None:
            checks.integer("max_attempts", max_attempts, 1, MAX_ATTEMPTS)
        if timeout is not None:
            check_timeout("timeout", timeout)
        if unique_key is not None:
            checks.text("unique_key", unique_key, max_length=MAX_KEY_LENGTH)
        return NewJob(
            name=name,
            args_json=args_json,
            queue=_check_name("queue", queue) if queue is not None else spec.queue,
            priority=check_priority(priority) if priority is not None else spec.priority,
            max_attempts=max_attempts or spec.max_attempts,
            run_at=_run_at(delay, run_at),
            timeout=float(timeout) if timeout is not None else spec.timeout,
            unique_key=unique_key,
            org_id=_check_optional("org_id", org_id),
            created_by=_check_optional("created_by", created_by),
            schedule_id=schedule_id,
            fire_time=fire_time,
        )

    # -- operators ------------------------------------------------------------------------
    def get_job(self, job_id: int) -> Job:
        """The job with this id; raises JobNotFound."""
        if isinstance(job_id, bool) or not isinstance(job_id, int) or not 1 <= job_id <= MAX_ID:
            raise JobNotFound(f"no job with id {job_id!r}")
        job = self.store.get_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def list_jobs(
        self,
        *,
        state: JobState | str | None = None,
        queue: str | None = None,
        name: str | None = None,
        org_id: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Job]:
        """Jobs, newest first."""
        if state is not None:
            try:
                state = JobState(state)
            except ValueError:
                states = ", ".join(s.value for s in JobState)
                raise InvalidInput(f"unknown state {state!r} (one of: {states})") from None
        if not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be between 1 and 10000, got {limit}")
        flt = JobFilter(state, queue, name, org_id, limit, before_id)
        return self.store.list_jobs(flt)

    def attempts(self, job_id: int) -> list[Attempt]:
        """The job's execution history, oldest first."""
        self.get_job(job_id)
        return self.store.list_attempts(job_id)

    def cancel(self, job_id: int) -> Job:
        """Cancel a waiting job; ask the worker running it to stop a running one."""
        before = self.get_job(job_id)
        if before.state in FINAL_STATES:
            raise JobStateError(
                f"job {job_id} is {before.state}; only waiting or running jobs can be cancelled"
            )
        job = self.store.cancel_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def retry(self, job_id: int) -> Job:
        """Run a failed or cancelled job again (now); a retrying job is run now."""
        before = self.get_job(job_id)
        if before.state in (JobState.RUNNING, JobState.QUEUED, JobState.COMPLETED):
            raise JobStateError(
                f"job {job_id} is {before.state}; only failed, cancelled, retrying or "
                "scheduled jobs can be retried"
            )
        job = self.store.retry_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def counts(self) -> dict[str, int]:
        """Jobs per state."""
        return self.store.count_by_state()

    def rate_use(self, name: str) -> RateUse | None:
        """How much of job type ``name``'s rate limit is used now (its starts in the last
        period, and when a start is allowed again if the limit is reached), from the limit
        logged with its latest start; None if none is logged."""
        return self.store.rate_use(checks.text("job type", name))

    # -- queues ---------------------------------------------------------------------------
    def pause_queue(self, name: str) -> QueueInfo:
        """Pause queue ``name``: every worker stops claiming its jobs (within a second;
        jobs already running finish). It stays paused, across restarts, until resumed. A
        queue without jobs can be paused too: jobs that arrive later wait."""
        self.store.set_paused(_check_name("queue", name), True)
        return self.queue(name)

    def resume_queue(self, name: str) -> QueueInfo:
        """Resume queue ``name``: workers claim its jobs again at once."""
        self.store.set_paused(_check_name("queue", name), False)
        return self.queue(name)

    def queue(self, name: str) -> QueueInfo:
        """One queue: paused or not, its ready and running jobs (zeros for an unknown one)."""
        found = self.store.list_queues(_check_name("queue", name))
        return found[0] if found else QueueInfo(name, False, 0, 0, None)

    def queues(self) -> list[QueueInfo]:
        """Every queue, by name: those with ready or running jobs, those ever paused and
        those this app's job types use; each with its paused flag and job counts."""
        found = {q.name: q for q in self.store.list_queues()}
        for spec in self.registry.values():
            found.setdefault(spec.queue, QueueInfo(spec.queue, False, 0, 0, None))
        return [found[name] for name in sorted(found)]

    # -- workers --------------------------------------------------------------------------
    def scheduler(self, **options: Any) -> Scheduler:
        """A scheduler for this app's schedules (see :class:`hourhand.scheduler.Scheduler`)."""
        from hourhand.scheduler import Scheduler

        return Scheduler(self, **options)

    def worker(self, **options: Any) -> Worker:
        """A worker for this app's job types (see :class:`hourhand.worker.Worker`)."""
        from hourhand.worker import Worker

        return Worker(self, **options)


def _run_at(delay: float | timedelta | None, run_at: datetime | None) -> datetime | None:
    if delay is not None and run_at is not None:
        raise InvalidInput("give either delay or run_at, not both")
    if delay is not None:
        seconds = checks.seconds(
            "delay", delay.total_seconds() if isinstance(delay, timedelta) else delay
        )
        if seconds == 0:
            return None
        return datetime.now(UTC) + timedelta(seconds=seconds)
    if run_at is not None:
        if not isinstance(run_at, datetime):
            raise InvalidInput(f"run_at must be a datetime, got {type(run_at).__name__}")
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise InvalidInput(
                "run_at is a naive datetime: give it a time zone, e.g. datetime.now(UTC)"
            )
        return run_at.astimezone(UTC)
    return None


def _check_name(what: str, value: str) -> str:
    return checks.text(what, value)


def _check_optional(what: str, value: str | None) -> str | None:
    return None if value is None else _check_name(what, value)
