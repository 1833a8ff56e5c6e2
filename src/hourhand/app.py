"""Hourhand: the registry of job types and the enqueue side of the API."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from hourhand import checks
from hourhand.alert_config import AlertRule, rule_from
from hourhand.app_settings import AppSettings
from hourhand.builtin import BuiltinSettings, install_kinds, read_kinds, register
from hourhand.checks import MAX_ID
from hourhand.config import load_schedules, option_names, read_toml
from hourhand.errors import (
    ConfigurationError,
    DatabaseNotFound,
    InvalidInput,
    JobNotFound,
    JobStateError,
    UnknownJobType,
)
from hourhand.handles import JobHandle
from hourhand.hooks import HookRegistrar, Hooks
from hourhand.jobs import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    DEFAULT_QUEUE,
    FINAL_STATES,
    MAX_ATTEMPTS,
    Attempt,
    EnqueueResult,
    Job,
    JobSpec,
    JobState,
    NewJob,
    check_priority,
    check_timeout,
    encode_args,
)
from hourhand.ratelimits import RateLimit, RateUse
from hourhand.retention import RETENTION, Pruner, manual_rule, retention_handler
from hourhand.retry import DEFAULT_RETRY, Retry
from hourhand.schedule_model import (
    DEFAULT_CATCHUP_WINDOW,
    DEFAULT_MISFIRE,
    DEFAULT_MISFIRE_CAP,
    DEFAULT_OVERLAP,
    ScheduleSpec,
)
from hourhand.schedules import Schedules
from hourhand.stats import Stats
from hourhand.store import (
    DEFAULT_DATABASE,
    DatabaseInfo,
    JobFilter,
    QueueInfo,
    Store,
    check_url,
    latest_migration,
    locate,
    open_store,
)
from hourhand.waiting import Waiters

if TYPE_CHECKING:
    from fastapi import FastAPI

    from hourhand.alert_engine import AlertEngine
    from hourhand.ops import Operations
    from hourhand.scheduler import Scheduler
    from hourhand.settings import Settings
    from hourhand.worker import Worker

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
Handler = Callable[Concatenate[Any, P], R]
DEFAULT_WAIT = 30.0  # seconds hh.wait waits when given no timeout
MAX_WAIT = 24 * 3600.0

MAX_KEY_LENGTH = 1000  # characters in a unique key
PRUNED_STATES = ("completed", "cancelled", "failed")


def database_from_env() -> str:
    return _env_database() or DEFAULT_DATABASE


def _env_database() -> str | None:
    return os.environ.get("HOURHAND_DATABASE") or None


def listen_database_from_env() -> str | None:
    return os.environ.get("HOURHAND_LISTEN_DATABASE") or None


class Hourhand(AppSettings):
    """The application: job types registered in code, and the jobs database.

    ``Hourhand()`` uses ``HOURHAND_DATABASE``, else the ``database`` of a config file read
    before the database's first use (:meth:`load_config`), else ``sqlite:///hourhand.db``;
    a URL that is not one of those kinds is refused here. The database is opened on first
    use and, unless ``auto_migrate=False``, migrated, with the missing schedules of code and
    config added.

    ``create=False`` never creates a database: a missing SQLite file, or a database without
    hourhand's tables, raises DatabaseNotFound on first use instead of being created (an
    existing hourhand schema is still upgraded, unless ``auto_migrate=False``).

    Through PgBouncer in transaction mode, add ``?pgbouncer=true`` to the PostgreSQL URL;
    ``listen_database`` (or ``HOURHAND_LISTEN_DATABASE``) is then a direct connection to
    PostgreSQL for LISTEN/NOTIFY wake-ups; without one, workers poll (docs/scaling.md).
    """

    def __init__(
        self,
        database: str | None = None,
        *,
        auto_migrate: bool = True,
        create: bool = True,
        listen_database: str | None = None,
    ) -> None:
        self.database_url = check_url(database or database_from_env())
        # where the URL came from: an argument, the environment, a config file, the default
        self.database_origin = (
            "argument" if database else "HOURHAND_DATABASE" if _env_database() else "default"
        )
        listen = listen_database or listen_database_from_env()
        self.listen_database = None if listen is None else check_url(listen)
        self.auto_migrate = auto_migrate
        self.create = create
        self.registry: dict[str, JobSpec] = {}
        self.code_schedules: dict[str, ScheduleSpec] = {}  # from @hh.cron
        self.config_schedules: dict[str, ScheduleSpec] = {}  # from hourhand.toml
        self.config_path: Path | None = None  # the config file read, if any
        self.alert_rules: dict[str, AlertRule] = {}  # from hh.alert(...)
        # [databases.*], [secrets], [email], [kinds.*] of that file (hourhand.builtin)
        self.builtin = BuiltinSettings()
        self.custom_kinds: frozenset[str] = frozenset()  # job types of its [kinds.*]
        self.schedules = Schedules(self)
        self.hooks = Hooks()  # see the before_job, after_job, on_failure, on_dead properties
        # what `hourhand web` and `serve` serve around the API (see web_app)
        self.web_factory: Callable[[FastAPI], Any] | None = None
        self._settings: Settings | None = None  # see the settings property
        self._store: Store | None = None
        self._waiters: Waiters | None = None
        self._ops: Operations | None = None
        self._lock = threading.Lock()
        # hourhand's own job types (named hourhand.*), on every app, so that any worker
        # runs them: the ready-made kinds, alert notifications, and the retention job of
        # the [retention] system schedule
        from hourhand.alert_engine import register_notify

        register(self)  # hourhand.http, hourhand.sql, hourhand.email
        register_notify(self)
        self.job(RETENTION)(retention_handler(self))
        self.registry[RETENTION] = replace(self.registry[RETENTION], admin_only=True)

    # -- the database ---------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            opened = False
            with self._lock:
                if self._store is None:
                    store = self._open(create=self.create)
                    try:
                        if not self.create and store.schema_version() is None:
                            where = locate(self.database_url)
                            raise DatabaseNotFound(
                                f"the database {where.path or where.masked} has no hourhand tables"
                            )
                        if self.auto_migrate:
                            store.migrate()
                    except BaseException:
                        store.close()
                        raise
                    self._store = store
                    opened = True
            if opened and self.auto_migrate:
                self._add_schedules()
        assert self._store is not None
        return self._store

    def _open(self, *, create: bool) -> Store:
        return open_store(self.database_url, create=create, listen_url=self.listen_database)

    def migrate(self) -> list[int]:
        """Bring the database's schema up to date and sync the schedules of code (and of
        the config file, if one was read) into it; returns the migrations applied.
        Safe to run from several processes at once; creates the database whatever
        ``create`` says."""
        with self._lock:
            if self._store is None:
                self._store = self._open(create=True)
            store = self._store
        applied = store.migrate()
        self.sync_schedules()
        return applied

    def sync_schedules(self) -> None:
        """Make the database's code and config schedules match this app's: add, change and
        remove them (a scheduler does this when it starts; ``migrate`` does it too)."""
        if self.code_schedules or self.config_path is not None:
            self.scheduler().sync()

    def _add_schedules(self) -> None:
        """At the first use of the database: add this app's schedules that are missing, so
        they exist before any scheduler starts. Nothing is changed or removed (this process
        may import only some of them, or be older code); a failure is logged, not raised."""
        if not (self.code_schedules or self.config_schedules or self._has_retention()):
            return
        try:
            self.scheduler().sync(add_only=True)
        except Exception as exc:
            logger.warning("could not add the app's schedules at first use: %s", exc)

    def schema_version(self) -> int | None:
        """The newest migration applied to the database (None: no hourhand tables)."""
        return self.store.schema_version()

    def database_info(self) -> DatabaseInfo:
        """Which database this app uses and what it holds. Creates, migrates and changes
        nothing: a missing SQLite file is reported as missing, not created."""
        where = locate(self.database_url)
        info = DatabaseInfo(
            url=where.masked,
            dialect=where.dialect,
            path=where.path,
            exists=True,
            schema_version=None,
            latest_version=latest_migration(where.dialect),
        )
        if where.path is not None and not os.path.isfile(where.path):
            return replace(info, exists=False)
        store = self._store or open_store(self.database_url, create=False)
        try:
            version = store.schema_version()
            if version is None:
                return info
            if version < latest_migration(where.dialect):  # tables it reads may be missing
                return replace(info, schema_version=version)
            jobs = store.count_by_state()
            schedules = len(store.list_schedules())
        finally:
            if store is not self._store:
                store.close()
        return replace(info, schema_version=version, jobs=jobs, schedules=schedules)

    def close(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, None
            store, self._store = self._store, None
        if waiters is not None:
            waiters.close()
        if store is not None:
            store.close()

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
        admin_only: bool = False,
    ) -> Callable[[Handler[P, R]], JobHandle[P, R]]:
        """Register the decorated function (sync or async) as a job type; returns its
        :class:`~hourhand.handles.JobHandle` (``.enqueue(...)``; calling it calls the function).

        Its first parameter is the :class:`JobContext`; the job's args are passed as keyword
        arguments, checked at enqueue against the parameters' type hints. ``concurrency``
        caps how many run at once across all workers; ``rate_limit`` how many start in any
        period across all workers: ``(100, 60)``, ``RateLimit(100, per=60)`` or ``"100/m"``.
        ``admin_only``: a system job; through the CLI, API and dashboard only cluster admins
        enqueue or schedule it (an organisation's key gets 403); code enqueues it freely."""

        def register(fn: Handler[P, R]) -> JobHandle[P, R]:
            if isinstance(fn, JobHandle):  # stacked decorators: register the function
                fn = fn.fn
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
                admin_only=admin_only,
            )
            if spec.name in self.registry:
                raise InvalidInput(f"job type {spec.name!r} is already registered")
            self.registry[spec.name] = spec
            return JobHandle(self, spec.name, fn)

        return register

    # -- hooks (docs/hooks.md) -----------------------------------------------------------
    @property
    def before_job(self) -> HookRegistrar:
        """``@hh.before_job``: ``fn(ctx)`` before every attempt's handler (``job=``: of one
        job type only). Sync or async; what it raises is logged, never fails the job."""
        return HookRegistrar(self.hooks, "before_job")

    @property
    def after_job(self) -> HookRegistrar:
        """``@hh.after_job``: ``fn(ctx, result)`` after every attempt, once its end is
        recorded (``result``: an :class:`~hourhand.hooks.AttemptResult`)."""
        return HookRegistrar(self.hooks, "after_job")

    @property
    def on_failure(self) -> HookRegistrar:
        """``@hh.on_failure``: ``fn(ctx, result)`` for an attempt that failed, timed out or
        was lost, whether or not the job will be retried."""
        return HookRegistrar(self.hooks, "on_failure")

    @property
    def on_dead(self) -> HookRegistrar:
        """``@hh.on_dead``: ``fn(ctx, result)`` when a job enters ``failed``, the
        dead-letter set."""
        return HookRegistrar(self.hooks, "on_dead")

    def cron(
        self,
        expr: str,
        *,
        name: str | None = None,
        tz: str = "UTC",
        args: Mapping[str, Any] | None = None,
        enabled: bool = True,
        misfire: str = DEFAULT_MISFIRE,
        misfire_cap: int = DEFAULT_MISFIRE_CAP,
        catchup_window: float = DEFAULT_CATCHUP_WINDOW,
        overlap: str = DEFAULT_OVERLAP,
        jitter: float = 0.0,
        queue: str = DEFAULT_QUEUE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry: Retry = DEFAULT_RETRY,
        timeout: float | None = None,
        priority: int = DEFAULT_PRIORITY,
        admin_only: bool = False,
    ) -> Callable[[Handler[P, R]], JobHandle[P, R]]:
        """Register the decorated function as a job type that runs on a cron schedule
        (``expr`` in zone ``tz``); the job type and the schedule share ``name``. Returns the
        job type's handle. ``admin_only`` as for :meth:`job`."""

        def register(fn: Handler[P, R]) -> JobHandle[P, R]:
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
                misfire_cap=misfire_cap,
                catchup_window=catchup_window,
                overlap=overlap,
                jitter=jitter,
            ).validated()  # a bad expression or zone fails at import, with its message
            if job_name in self.code_schedules:
                raise InvalidInput(f"schedule {job_name!r} is already registered")
            handle = self.job(
                job_name,
                queue=queue,
                max_attempts=max_attempts,
                retry=retry,
                timeout=timeout,
                priority=priority,
                admin_only=admin_only,
            )(fn)
            self.registry[job_name].check_args(spec.args)
            self.code_schedules[job_name] = spec
            return handle

        return register

    def load_config(self, path: str | Path) -> list[ScheduleSpec]:
        """Read a config file (hourhand.toml): its schedules, synced into the database when
        a scheduler starts, and its settings under the ``HOURHAND_*`` variables (see
        :attr:`settings`). Only an app that read a config file adds, changes or removes
        config schedules: one that read none leaves them alone.

        The file's custom kinds (``[kinds.*]``) become job types, replacing those of a file
        read before. Every schedule's job type must be registered (or be such a kind), and
        every key that is not an option must be one of its parameters: ConfigurationError
        names file, table and key; nothing is changed then."""
        entries = load_schedules(path)
        settings = self._checked_settings(path)
        builtin, kinds = read_kinds(self, read_toml(path), path, settings.alerting)
        registry = {n: s for n, s in self.registry.items() if n not in self.custom_kinds}
        registry.update(kinds)
        for entry in entries:
            spec = registry.get(entry.spec.job)
            if spec is None:
                known = ", ".join(sorted(registry)) or "none"
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
                spec.check_args(entry.spec.args, depth="args")  # the settings are not in yet
            except InvalidInput as exc:
                raise ConfigurationError(f"{entry.where}: {exc}") from None
        databases = (self.database_url, self.database_origin, self.listen_database)
        previous = install_kinds(self, builtin, kinds), self._settings
        self._use(settings)
        for entry in entries:  # against the file's own settings: databases, SMTP server
            try:
                registry[entry.spec.job].check_args(entry.spec.args, depth="config")
            except InvalidInput as exc:  # put everything back as it was
                install_kinds(self, *previous[0])
                self._settings = previous[1]
                self.database_url, self.database_origin, self.listen_database = databases
                raise ConfigurationError(f"{entry.where}: {exc}") from None
        self.config_schedules = {entry.spec.name: entry.spec for entry in entries}
        self.config_path = Path(path)
        return [entry.spec for entry in entries]

    def load_kinds(self, path: str | Path) -> list[str]:
        """Read the settings of a config file (:meth:`load_settings`: ``[smtp]``, the
        channels, ...) and the built-in kinds' tables (``[databases.*]``, ``[secrets]``,
        ``[email]``, ``[kinds.*]``), without its schedules: for an app that runs those
        kinds but none of the file's schedules' types. Returns the custom kinds' names
        (:meth:`load_config` reads all of it)."""
        settings = self.load_settings(path)
        builtin, kinds = read_kinds(self, read_toml(path), path, settings.alerting)
        install_kinds(self, builtin, kinds)
        return sorted(kinds)

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
        connection: Any = None,
    ) -> EnqueueResult:
        """Add a job; returns its id (an :class:`~hourhand.jobs.EnqueueResult`: an int with
        ``.created``). Durable when it returns.

        With ``unique_key``, while a job of this type (and org) with the same key is
        waiting or running, that job's id is returned with ``created=False`` and nothing is
        added or changed: this call's args, delay, priority and other options are dropped.

        With ``connection`` (your own open connection to hourhand's database: a psycopg 3
        connection on PostgreSQL, an ``sqlite3`` one on SQLite), the job is inserted in
        *your* transaction: it exists, and workers see it, when you commit, and never if
        you roll back (the "outbox" problem solved: an order and the job that mails its
        receipt commit together). Durable when you commit."""
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
        if connection is not None:
            job_id, created = self.store.insert_job_on(connection, job)
        else:
            job_id, created = self.store.insert_job(job)
        if not created:
            logger.info("job %s: unique key already held by job %d; nothing enqueued", name, job_id)
        return EnqueueResult(job_id, created)

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
        connection: Any = None,
    ) -> list[int]:
        """Add one job of type ``name`` per args mapping, in one statement; ids in order.
        Every item is checked (names and type hints) before any is stored. ``connection``:
        in your transaction, as for :meth:`enqueue`."""
        items = [{} if args is None else args for args in args_list]
        if not items:
            return []
        spec = self.spec(name)
        try:
            encoded = [encode_args(name, args) for args in items]
        except InvalidInput:
            for index, args in enumerate(items):  # say which item: rare, so found again
                try:
                    encode_args(name, args)
                except InvalidInput as exc:
                    raise type(exc)(f"item {index}: {exc}") from None
            raise
        spec.check_args_many(items, encoded)
        first = self.new_job(
            name,
            items[0],
            delay=delay,
            run_at=run_at,
            priority=priority,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
            org_id=org_id,
            created_by=created_by,
        )
        if connection is not None:
            return self.store.insert_alike_on(connection, first, encoded)
        return self.store.insert_alike(first, encoded)

    async def enqueue_async(
        self, name: str, args: Mapping[str, Any] | None = None, **options: Any
    ) -> EnqueueResult:
        """:meth:`enqueue` for async callers (the database call runs in a thread; so no
        ``connection``: yours belongs to your thread, call :meth:`enqueue` with it)."""
        if options.get("connection") is not None:
            raise InvalidInput("enqueue_async takes no connection: call enqueue")
        return await asyncio.to_thread(self.enqueue, name, args, **options)

    async def enqueue_many_async(
        self, name: str, args_list: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[int]:
        if options.get("connection") is not None:
            raise InvalidInput("enqueue_many_async takes no connection: call enqueue_many")
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
        # A schedule's run is checked against its arguments alone (jobs.CheckDepth): a run
        # that could not be checked against this process's settings is better run, and
        # failed with its reason, than skipped.
        spec.check_args(args or {}, args_json, depth="all" if schedule_id is None else "args")
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
        if job.state in FINAL_STATES and job.state != JobState.CANCELLED:  # ended meanwhile
            raise JobStateError(f"job {job_id} is {job.state} now; it was not cancelled")
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
        if job is None:  # gone, or its state changed since it was read
            now = self.get_job(job_id)
            raise JobStateError(f"job {job_id} is {now.state} now; it was not retried")
        return job

    def counts(self) -> dict[str, int]:
        """Jobs per state: waiting, running and failed (the dead-letter set) as they are
        now; completed and cancelled as ever counted (pruning does not lower them). Its
        cost does not grow with the history."""
        return self.store.count_by_state()

    def stats(self, hours: float = 24, queue: str | None = None, name: str | None = None) -> Stats:
        """The rollup: per minute over the last ``hours`` (completed and failed attempts,
        dead and cancelled jobs, attempt durations), and the totals per (queue, job type),
        of one queue and/or job type if given."""
        span = checks.number("hours", hours, 0, 10 * 365 * 24) * 3600
        queue = None if queue is None else checks.text("queue", queue)
        name = None if name is None else checks.text("job type", name)
        since = self.store.now() - timedelta(seconds=span)
        series = self.store.stats_series(since, None, queue, name)
        totals = [
            t
            for t in self.store.stats_totals()
            if (queue is None or t.queue == queue) and (name is None or t.name == name)
        ]
        return Stats(since, series, totals)

    def prune(
        self,
        older_than: float | timedelta,
        states: Iterable[str] = PRUNED_STATES,
        batch: int = 1000,
    ) -> int:
        """Delete finished jobs (and their attempts) that finished more than ``older_than``
        (seconds, or a timedelta) ago by the database's clock, in short transactions of
        ``batch`` jobs; returns how many. Counts and stats keep what they counted. (The
        ``[retention]`` policy does this on a schedule: hourhand.retention.)"""
        rule = manual_rule(older_than, states)
        return Pruner(self.store, batch_size=batch, pause=0).prune([rule]).deleted

    def prunable(
        self, older_than: float | timedelta, states: Iterable[str] = PRUNED_STATES
    ) -> dict[str, int]:
        """What :meth:`prune` would delete now: jobs per state (a dry run)."""
        rule = manual_rule(older_than, states)
        if not rule.states:
            return {}
        return Pruner(self.store).count([rule]).matched

    # -- waiting for results ----------------------------------------------------------------
    def wait(self, job_id: int, timeout: float = DEFAULT_WAIT) -> Job:
        """Block until the job has finished (completed, failed or cancelled) or ``timeout``
        seconds have passed, and return it. On timeout the job is returned as it is then:
        check ``job.state``. Woken by the database's notifications, not by polling the job.
        Raises JobNotFound for an unknown id."""
        seconds = checks.seconds("timeout", timeout, maximum=MAX_WAIT)
        return self._waiting().wait(job_id, seconds, self.get_job)

    async def wait_async(self, job_id: int, timeout: float = DEFAULT_WAIT) -> Job:
        """:meth:`wait` for async callers: it holds no thread while it waits."""
        seconds = checks.seconds("timeout", timeout, maximum=MAX_WAIT)
        return await self._waiting().wait_async(job_id, seconds, self.get_job)

    def _waiting(self) -> Waiters:
        store = self.store
        with self._lock:
            if self._waiters is None:
                self._waiters = Waiters(store)
            return self._waiters

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
        those this app's job types use (hourhand's own, such as notifications, only while
        they have jobs); each with its paused flag and job counts."""
        found = {q.name: q for q in self.store.list_queues()}
        for name in self.own_job_types():  # (hourhand.* types run in the app's queues)
            queue = self.registry[name].queue
            found.setdefault(queue, QueueInfo(queue, False, 0, 0, None))
        return [found[name] for name in sorted(found)]

    # -- operations -----------------------------------------------------------------------
    @property
    def ops(self) -> Operations:
        """The operations layer (hourhand.ops): what the CLI, the API and the dashboard
        do, with permissions, organisation scope and the audit log."""
        if self._ops is None:
            from hourhand.ops import Operations

            self._ops = Operations(self)
        return self._ops

    def asgi_app(self, **options: Any) -> FastAPI:
        """The REST API as an ASGI app, to mount in your own FastAPI or Starlette app:
        ``app.mount("/hourhand", hh.asgi_app())``. Options: those of
        :func:`hourhand.web.create_app` (``metrics_public``, ``dashboard``,
        ``dashboard_auth``: see docs/dashboard.md). Needs FastAPI installed."""
        from hourhand.web import create_app

        return create_app(self, **options)

    def web_app(self, factory: Callable[[FastAPI], Any]) -> Callable[[FastAPI], Any]:
        """Have ``hourhand web`` and ``hourhand serve`` serve your own ASGI app, with routes
        of its own beside hourhand's: ``factory(api)`` gets the API (:meth:`asgi_app` with
        the command's options) and returns the app to serve, which mounts it. Usable as a
        decorator::

            @hh.web_app
            def site(api: FastAPI) -> FastAPI:
                app = FastAPI()
                app.include_router(my_routes)
                app.mount("/", api)   # after your routes: /v1, /health, /dashboard
                return app
        """
        self.web_factory = factory
        return factory

    def served_app(self, **options: Any) -> Any:
        """What ``hourhand web`` and ``serve`` serve: the API (``asgi_app(**options)``),
        through the :meth:`web_app` factory if one is registered."""
        api = self.asgi_app(**options)
        return api if self.web_factory is None else self.web_factory(api)

    # -- workers --------------------------------------------------------------------------
    def alert(self, name: str, kind: str, **params: Any) -> AlertRule:
        """Add an alert rule in code, as an ``[alerts.NAME]`` table would (docs/alerts.md):
        ``hh.alert("reports-failing", "failures_in_a_row", job="reports:generate",
        count=3, severity="critical", channels=["ops-hook"])``. ConfigurationError names
        what is wrong."""
        rule = rule_from({"kind": kind, **params}, f"alert rule {name!r}")
        self.alert_rules[name] = rule
        return rule

    def alert_engine(self) -> AlertEngine:
        """The evaluation of this app's alert rules (schedulers run it)."""
        from hourhand.alert_engine import AlertEngine

        return AlertEngine(self)

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
