"""Hourhand: the registry of job types and the enqueue side of the API."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from hourhand import checks
from hourhand.alert_config import AlertRule, rule_from
from hourhand.app_enqueue import Enqueueing
from hourhand.app_operators import OperatorCalls
from hourhand.app_settings import AppSettings
from hourhand.builtin import BuiltinSettings, install_kinds, read_kinds, register
from hourhand.config import load_schedules, option_names, read_toml
from hourhand.errors import (
    ConfigurationError,
    DatabaseNotFound,
    InvalidInput,
    UnknownJobType,
)
from hourhand.handles import JobHandle
from hourhand.hooks import HookRegistrar, Hooks
from hourhand.jobs import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    DEFAULT_QUEUE,
    JobSpec,
    check_priority,
)
from hourhand.ratelimits import RateLimit
from hourhand.retention import RETENTION, retention_handler
from hourhand.retry import DEFAULT_RETRY, Retry
from hourhand.schedule_model import (
    DEFAULT_CATCHUP_WINDOW,
    DEFAULT_MISFIRE,
    DEFAULT_MISFIRE_CAP,
    DEFAULT_OVERLAP,
    ScheduleSpec,
)
from hourhand.schedules import Schedules
from hourhand.store import (
    DEFAULT_DATABASE,
    DatabaseInfo,
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


def database_from_env() -> str:
    return _env_database() or DEFAULT_DATABASE


def _env_database() -> str | None:
    return os.environ.get("HOURHAND_DATABASE") or None


def listen_database_from_env() -> str | None:
    return os.environ.get("HOURHAND_LISTEN_DATABASE") or None


class Hourhand(Enqueueing, OperatorCalls, AppSettings):
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
                queue=checks.text("queue", queue),
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
