"""The store interface: a small set of primitive operations on job rows.

The store knows rows, not policies: the worker decides *what* should happen (retry in 40 s,
fail, hand back) and the store applies it, fenced on ``(id, attempt, worker_id)`` so that a
worker that lost its claim changes nothing. Each dialect implements this class once; the SQL
lives in ``sql/<dialect>/queries.sql`` as named blocks and in versioned migrations.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from hourhand.errors import JobStateError
from hourhand.jobs import Attempt, Job, JobState, NewJob, Outcome
from hourhand.ratelimits import RateLimit, RateUse
from hourhand.schedule_model import Schedule, ScheduleSpec
from hourhand.stats import StatsPoint, StatsTotal
from hourhand.store.fires import FireRecord, NewFire

if TYPE_CHECKING:
    from hourhand.store.alert_rows import AlertRecords
    from hourhand.store.records import Records
    from hourhand.store.rows import TimeDecoder

LISTEN_CHANNEL = "hourhand_jobs"  # payload: the queue that got ready work
CANCEL_CHANNEL = "hourhand_cancel"  # payload: the id of a running job to cancel
DONE_CHANNEL = "hourhand_done"  # jobs ended for good (completed, failed, cancelled); no payload
QUEUES_CHANNEL = "hourhand_queues"  # payload: a queue that was paused or resumed
MIGRATION_LOCK = 0x686F7572  # advisory lock key ('hour') held while migrating
HOLD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)  # run_at of a run held behind a running one
SCHEDULE_COLUMNS = frozenset(ScheduleSpec.__dataclass_fields__) | {
    "next_fire_at",
    "defined_enabled",
    "enabled_override",
    "disabled_at",
    "overrides",
}

_NAME_RE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load_queries(dialect: str, file: str = "queries.sql") -> dict[str, str]:
    """Named SQL blocks of ``sql/<dialect>/<file>``: ``-- name: x`` starts block x."""
    text = resources.files("hourhand.store").joinpath(f"sql/{dialect}/{file}").read_text()
    parts = _NAME_RE.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def load_migrations(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for each ``sql/<dialect>/migrations/NNNN_name.sql``, in order."""
    folder = resources.files("hourhand.store").joinpath(f"sql/{dialect}/migrations")
    found = []
    for entry in folder.iterdir():
        match = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text()))
    return sorted(found)


def latest_migration(dialect: str) -> int:
    """The version of the newest migration this version of hourhand has for ``dialect``."""
    return load_migrations(dialect)[-1][0]


def load_schema(dialect: str) -> str:
    """The fresh schema: equal to applying every migration in order (a test checks)."""
    return resources.files("hourhand.store").joinpath(f"sql/{dialect}/schema.sql").read_text()


@dataclass(frozen=True)
class PruneBatch:
    """What one batch of :meth:`Store.prune_jobs` did."""

    found: int  # jobs that qualified and were not held by another transaction
    deleted: int  # of those, deleted (with their attempts)
    last_id: int | None  # the highest id found: the next batch starts after it


@dataclass(frozen=True)
class Completion:
    """A finished attempt to record as completed."""

    job_id: int
    attempt: int
    result_json: str | None
    duration: float


@dataclass(frozen=True)
class AttemptEnd:
    """An attempt that did not complete, and what becomes of the job.

    ``new_state`` is RETRYING (run again after ``retry_in`` seconds), FAILED, CANCELLED, or
    QUEUED for a job handed back by a worker shutting down (that attempt is not counted).
    """

    job_id: int
    attempt: int
    worker_id: str
    outcome: Outcome
    new_state: JobState
    error: str | None = None
    traceback: str | None = None
    retry_in: float = 0.0  # seconds, for RETRYING
    duration: float | None = None
    require_expired: bool = False  # rescue: apply only if the lease has expired (db clock)


@dataclass(frozen=True)
class JobFilter:
    """What to list."""

    state: JobState | None = None
    queue: str | None = None
    name: str | None = None
    org_id: str | None = None
    limit: int = 100
    before_id: int | None = None  # keyset pagination: ids below this one
    schedule_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    error: str | None = None  # text in the last error (case-insensitive)
    error_class: str | None = None  # the exception class the last error names
    args_text: str | None = None  # text in the JSON args (bound to recent ids: min_id)
    min_id: int | None = None  # ids from this one up


@dataclass(frozen=True)
class TypeClaim:
    """What a claim of one limited job type got."""

    jobs: list[Job]
    # the type's rate limit is reached: seconds until it allows a start again (database
    # clock); None when it is not reached (or the type has none)
    free_in: float | None = None


@dataclass(frozen=True)
class QueueInfo:
    """A queue: paused or not, and how many of its jobs are in each unfinished state."""

    name: str
    paused: bool
    ready: int  # queued, waiting for a worker
    running: int
    changed_at: datetime | None  # when it was last paused or resumed (None: never)
    scheduled: int = 0  # waiting for their run_at
    retrying: int = 0  # waiting for their next attempt
    failed: int = 0  # in the dead-letter set
    oldest_ready_at: datetime | None = None  # since when its oldest ready job has waited

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.__dict__)
        for key in ("changed_at", "oldest_ready_at"):
            value = out[key]
            out[key] = None if value is None else value.isoformat()
        return out


@dataclass
class HeartbeatResult:
    # (job id, attempt) pairs: two attempts of one job can be held by one worker at once
    alive: set[tuple[int, int]] = field(default_factory=set)  # still ours, lease extended
    cancel_requested: set[tuple[int, int]] = field(default_factory=set)


class Watcher(ABC):
    """Waits for signs of new work: a notification, or a change to the database. Used by
    one thread; it reconnects by itself (with backoff) when its connection is lost."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block until work may have arrived or ``timeout`` seconds pass; True if woken."""

    @abstractmethod
    def cancel_requests(self) -> list[int]:
        """Ids of running jobs whose cancellation was requested since the last call (on
        stores with notifications; empty otherwise: heartbeats bring those)."""

    @abstractmethod
    def queues_changed(self) -> bool:
        """True (once) when a queue may have been paused or resumed since the last call:
        the paused queues are to be read again."""

    @abstractmethod
    def close(self) -> None: ...


class Store(ABC):
    """Primitive operations on the jobs tables. Methods are blocking and thread-safe.

    Errors: DatabaseUnavailable when the database cannot be reached (or refuses writes);
    DatabaseRejected when it refuses a value; anything else is a bug or a conflict."""

    dialect: ClassVar[str]

    # -- lifecycle ----------------------------------------------------------------------
    @abstractmethod
    def migrate(self, *, fresh_schema: bool = True) -> list[int]:
        """Bring the schema up to date; returns the versions applied. Safe to run
        concurrently from several processes. ``fresh_schema=False`` applies the migration
        chain even on an empty database (used to test that both paths agree)."""

    @abstractmethod
    def applied_migrations(self) -> list[int]:
        """Versions recorded as applied."""

    @abstractmethod
    def schema_version(self) -> int | None:
        """The newest migration applied; None if the database has no hourhand tables.
        Reads only: creates nothing."""

    @abstractmethod
    def describe_schema(self) -> list[str]:
        """A normalized, sorted description of tables, columns and indexes."""

    @abstractmethod
    def now(self) -> datetime:
        """The database's clock."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @property
    @abstractmethod
    def alerts(self) -> AlertRecords:
        """Alerts, their history and the rules made through the API
        (:mod:`hourhand.store.alert_rows`)."""

    @property
    @abstractmethod
    def records(self) -> Records:
        """API keys, the audit log and the live processes (:mod:`hourhand.store.records`),
        on this store's connections."""

    # -- enqueue --------------------------------------------------------------------------
    @abstractmethod
    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[int]:
        """Insert jobs in one transaction; ids in input order. A job whose unique key is
        held by a waiting or running job gets that job's id instead of a new row."""

    @abstractmethod
    def insert_alike(self, job: NewJob, args_json: Sequence[str]) -> list[int]:
        """Insert one job per encoded args, each like ``job`` but for its args (no unique
        key, no schedule), in one statement; ids in input order. The varying column goes
        to the database as one JSON array, the others once each."""

    @abstractmethod
    def insert_job(self, job: NewJob) -> tuple[int, bool]:
        """Insert one job: its id, and False if a job holding its unique key (or its
        schedule's fire time) was found instead."""

    @abstractmethod
    def insert_alike_on(self, connection: Any, job: NewJob, args_json: Sequence[str]) -> list[int]:
        """:meth:`insert_alike` through the caller's connection, in its transaction (as
        :meth:`insert_job_on`)."""

    @abstractmethod
    def insert_job_on(self, connection: Any, job: NewJob) -> tuple[int, bool]:
        """:meth:`insert_job` through the caller's own open connection to this database,
        inside the caller's transaction: the job exists when (and if) it commits.
        InvalidInput if ``connection`` is not a connection of this store's kind."""

    # -- worker ---------------------------------------------------------------------------
    @abstractmethod
    def promote_due(self) -> tuple[int, float | None]:
        """Move scheduled/retrying jobs whose run_at has come to queued. Returns how many,
        and the seconds until the next one is due by the database's clock (None if there is
        none), so that a worker whose clock is off still waits the right time."""

    @abstractmethod
    def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        lease: float,
        names: Sequence[str] | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` queued jobs (highest priority, then oldest run_at) of the
        job types ``names`` (None: any type): each becomes running with attempt + 1, this
        worker, and a lease of ``lease`` seconds."""

    @abstractmethod
    def claim_limited(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        name: str,
        limit: int,
        lease: float,
        max_running: int | None = None,
        rate: RateLimit | None = None,
    ) -> TypeClaim:
        """Like claim, for one job type, serialized per type across all workers: never
        more than ``max_running`` of that type running at once, never more than
        ``rate.starts`` started in any ``rate.per`` seconds (see :func:`claim_of_type`)."""

    @abstractmethod
    def rate_use(self, name: str) -> RateUse | None:
        """How much of a job type's rate limit is used now (None: no start is logged)."""

    # -- queues ---------------------------------------------------------------------------
    @abstractmethod
    def set_paused(self, queue: str, paused: bool) -> None:
        """Pause or resume a queue (any name: a queue without jobs yet too), and tell the
        workers at once. Claims never take jobs of a paused queue."""

    @abstractmethod
    def paused_queues(self) -> frozenset[str]: ...

    @abstractmethod
    def ready_queues(self) -> list[str]:
        """The queues that hold queued jobs (one index probe per queue)."""

    @abstractmethod
    def list_queues(self, name: str | None = None) -> list[QueueInfo]:
        """Queues with ready or running jobs and queues ever paused, by name (or just one)."""

    @abstractmethod
    def heartbeat(
        self, worker_id: str, jobs: Sequence[tuple[int, int]], lease: float
    ) -> HeartbeatResult:
        """Extend the lease of (id, attempt) pairs still held by this worker."""

    @abstractmethod
    def complete(self, worker_id: str, items: Sequence[Completion]) -> list[int]:
        """Mark jobs completed with their results and record the attempts; fenced.
        Returns the ids that were still ours (and are now completed)."""

    @abstractmethod
    def end_attempt(self, end: AttemptEnd) -> JobState | None:
        """Apply a non-completed attempt end; fenced. Returns the job's new state (None if
        the job was not ours). A job whose cancellation was requested ends ``cancelled``
        whatever ``end.new_state`` says: an operator's cancel is never undone by a retry."""

    @abstractmethod
    def expired(self, limit: int) -> list[Job]:
        """Running jobs whose lease has expired by the database clock."""

    @abstractmethod
    def release_unheld(self, worker_id: str, held: Sequence[int]) -> list[int]:
        """Give back running jobs claimed by this worker that it does not hold (a claim
        whose reply was lost with the connection): queued again, the attempt not counted.
        Returns their ids."""

    @abstractmethod
    def recorded(self, worker_id: str, pairs: Sequence[tuple[int, int]], outcome: str) -> set[int]:
        """Ids of the (job id, attempt) pairs whose end with ``outcome`` this worker has
        recorded (an attempts row exists): tells a commit whose reply was lost from one that
        failed. (A rescue records ``lost`` under the rescued worker's id: not a match.)"""

    @abstractmethod
    def set_progress(
        self, worker_id: str, job_id: int, attempt: int, percent: float, message: str | None
    ) -> bool:
        """Record progress; fenced."""

    @abstractmethod
    def watch(self, *, finished: bool = False) -> Watcher:
        """A watcher of its own (one per listening thread) that wakes on new work, or with
        ``finished`` when jobs end for good (completed, failed or cancelled)."""

    @abstractmethod
    def private(self, *, statement_timeout: float | None = None) -> Store:
        """Another store on the same database with connections of its own (one, on
        PostgreSQL), for a thread that must never queue behind the others: heartbeats.
        ``statement_timeout``: seconds a statement may wait or run (PostgreSQL)."""

    # -- operators ------------------------------------------------------------------------
    @abstractmethod
    def get_job(self, job_id: int) -> Job | None: ...

    @abstractmethod
    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids that exist, in no particular order."""

    @abstractmethod
    def count_jobs(self, flt: JobFilter) -> int:
        """How many jobs match (``limit`` and ``before_id`` aside), up to
        ``listing.MAX_COUNT + 1``."""

    @abstractmethod
    def ready_by_type(self) -> list[tuple[str, str, int]]:
        """(queue, job type, ready jobs) for every pair with ready jobs."""

    @abstractmethod
    def delete_job(self, job_id: int) -> bool:
        """Delete a finished job (completed, failed, cancelled) with its attempts; False if
        there is none (or it has not finished)."""

    @abstractmethod
    def list_jobs(self, flt: JobFilter) -> list[Job]:
        """Newest first."""

    @abstractmethod
    def list_attempts(self, job_id: int) -> list[Attempt]:
        """Oldest first."""

    @abstractmethod
    def cancel_job(self, job_id: int) -> Job | None:
        """Cancel a waiting job, or flag a running one for its worker. Returns the job as
        this change left it (None if there is no such job); a finished one is unchanged."""

    @abstractmethod
    def retry_job(
        self, job_id: int, delay: float = 0.0, expect: JobState | None = None
    ) -> Job | None:
        """Queue a failed, cancelled or retrying job to run now (after ``delay`` seconds:
        scheduled), granting one more attempt if it had none left; with ``expect``, only
        if it is in that state. Returns the job after the change; None if nothing changed
        (no such job, or not in a state to retry)."""

    @abstractmethod
    def count_by_state(self) -> dict[str, int]:
        """Jobs per state (every JobState a key), without reading the history: waiting,
        running and failed jobs as they are now (through partial indexes); completed and
        cancelled as counted by the rollup, so pruning does not lower them."""

    # -- statistics (the rollup, kept as jobs finish) ------------------------------------
    @abstractmethod
    def stats_totals(self) -> list[StatsTotal]:
        """Everything the rollup counted, per (queue, job type), by queue then name."""

    @abstractmethod
    def stats_series(
        self,
        since: datetime,
        until: datetime | None = None,
        queue: str | None = None,
        name: str | None = None,
    ) -> list[StatsPoint]:
        """Per minute from ``since`` (up to ``until``, excluded), oldest first, summed over
        shards and over the queues and job types asked for (None: all). Minutes folded by
        :meth:`compact_stats` are no longer in it."""

    @abstractmethod
    def compact_stats(self, before: datetime, upto: datetime | None = None) -> int:
        """Count the rollup's minutes before ``upto`` (default: ``before``) into the totals
        (one row per (queue, job type)) and move the mark there, so totals read the
        minutes after it only; delete the counted minute rows older than ``before``; merge
        the shards of minutes no worker writes to. Totals and series do not change.
        Returns how many rows were deleted or merged."""

    @abstractmethod
    def count_prunable(
        self,
        before: datetime,
        states: Sequence[JobState],
        *,
        queue: str | None = None,
        except_queues: Sequence[str] = (),
    ) -> dict[str, int]:
        """How many jobs of each of ``states`` finished before ``before`` (what
        prune_jobs would delete): of ``queue`` only if given, and of no queue in
        ``except_queues``."""

    @abstractmethod
    def prune_jobs(
        self,
        before: datetime,
        states: Sequence[JobState],
        limit: int,
        *,
        after_id: int = 0,
        upto_id: int | None = None,
        queue: str | None = None,
        except_queues: Sequence[str] = (),
    ) -> PruneBatch:
        """Delete up to ``limit`` jobs in ``states`` (finished ones) that finished before
        ``before``, with their attempts, in one short transaction: the lowest ids above
        ``after_id`` (and at most ``upto_id``), of ``queue`` only if given and of no queue
        in ``except_queues``; rows another transaction holds are skipped. The next batch
        starts after ``last_id``; fewer than ``limit`` found: none are left. The rollup
        keeps what the jobs counted."""

    @abstractmethod
    def first_job_from(self, job_id: int) -> tuple[int, datetime] | None:
        """The job with the lowest id at or above ``job_id``, and when it was created (a
        primary key lookup); None if there is none."""

    @abstractmethod
    def last_job_id(self) -> int | None:
        """The highest job id there is (None: no jobs)."""

    # -- schedules ------------------------------------------------------------------------
    @abstractmethod
    def insert_schedule(self, spec: ScheduleSpec, next_fire_at: datetime | None) -> Schedule:
        """Add a schedule; ScheduleExists if its name is taken (in its organisation)."""

    @abstractmethod
    def update_schedule(self, schedule_id: int, values: dict[str, Any]) -> Schedule | None:
        """Set some of a schedule's columns (ScheduleSpec fields and next_fire_at)."""

    @abstractmethod
    def delete_schedule(self, schedule_id: int) -> bool: ...

    @abstractmethod
    def get_schedule(self, schedule_id: int) -> Schedule | None: ...

    @abstractmethod
    def find_schedule(self, name: str, org_id: str | None) -> Schedule | None: ...

    @abstractmethod
    def list_schedules(
        self, *, org_id: str | None = None, source: str | None = None
    ) -> list[Schedule]: ...

    @abstractmethod
    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        """Enabled schedules whose next fire time is at or before ``now``."""

    @abstractmethod
    def next_schedule_due(self) -> datetime | None:
        """The earliest next fire time of any enabled schedule."""

    @abstractmethod
    def fire_schedule(
        self,
        schedule_id: int,
        expected: datetime,
        next_fire_at: datetime | None,
        jobs: Sequence[NewJob],
        fires: Sequence[NewFire] = (),
    ) -> list[int]:
        """In one transaction, if the schedule's next fire time is still ``expected``
        (compare-and-set under the schedule's lock; otherwise nothing happens and no id is
        returned): insert its runs (a fire time already taken yields that job's id), write
        its ledger entries ``fires`` (an entry's job is the run of its ``run`` fire time; a
        fire time already in the ledger keeps its entry), and move the next fire time to
        ``next_fire_at``. With no runs and no entries it only moves the schedule on."""

    @abstractmethod
    def trigger_schedule(self, job: NewJob) -> int:
        """Insert a run of a schedule made by hand (``job.schedule_id`` set, no fire time)
        and its ledger entry ('triggered', at the job's creation), in one transaction."""

    @abstractmethod
    def schedule_activity(self, schedule_id: int) -> tuple[int, int]:
        """(waiting, running) jobs of a schedule."""

    @abstractmethod
    def schedule_jobs(self, schedule_id: int, limit: int) -> list[Job]:
        """A schedule's jobs, newest first."""

    # -- the ledger of fire times (store/fires.py) ---------------------------------------
    @abstractmethod
    def schedule_fires(
        self, schedule_id: int, limit: int, before: datetime | None = None
    ) -> list[FireRecord]:
        """A schedule's ledger, newest fire time first: up to ``limit`` entries whose fire
        time is before ``before`` (keyset pagination: pass the last fire time of a page)."""

    @abstractmethod
    def latest_fires(self, schedule_ids: Sequence[int] | None = None) -> dict[int, FireRecord]:
        """The newest ledger entry of each schedule (of ``schedule_ids``, or of all), by
        schedule id, leaving out runs made by hand ('triggered'); a schedule without one
        is not a key. One index probe per schedule."""

    @abstractmethod
    def prune_fires(self, schedule_id: int, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of a schedule's oldest ledger entries of fire times before
        ``before``, but never its newest success; how many went (one short transaction)."""

    @abstractmethod
    def last_successes(self, schedule_ids: Sequence[int] | None = None) -> dict[int, datetime]:
        """When the newest successful run (outcome 'completed', by cron or by hand) of
        each schedule (of ``schedule_ids``, or of all) finished, by schedule id; a schedule
        that never succeeded is not a key. One index probe per schedule."""


def claim_rows(
    run: Callable[[str, dict[str, Any]], list[Any]],
    queues: Sequence[str] | None,
    limit: int,
    params: dict[str, Any],
) -> list[Any]:
    """Claim up to ``limit`` rows: from any queue, or from each queue in turn (each on its
    own index range, so no claim sorts the whole queue). ``run(query_name, params)``
    returns the claim's rows (tuples: see decode_claimed)."""
    if queues is None:
        return run("claim_any", {**params, "limit": limit})
    rows: list[Any] = []
    for queue in queues:
        if len(rows) >= limit:
            break
        rows += run("claim_queue", {**params, "queue": queue, "limit": limit - len(rows)})
    return rows


RowRunner = Callable[[str, dict[str, Any]], list[dict[str, Any]]]


def claim_of_type(
    run: RowRunner,
    claim: Callable[[str, dict[str, Any]], list[Any]],
    name: str,
    limit: int,
    max_running: int | None,
    rate: RateLimit | None,
    params: dict[str, Any],
) -> tuple[list[Any], float | None]:
    """Claim rows of one limited job type, inside a transaction that is the only claimer of
    this type (PostgreSQL: an advisory lock; SQLite: the write lock): up to ``limit`` rows,
    fewer if ``max_running`` of the type are running or its rate limit allows fewer starts.

    A rate limit is a sliding window: each claim that starts jobs logs (now, how many) in
    ``hourhand_rate_starts``, and a claim first counts the starts of the last ``rate.per``
    seconds. Returns the rows and, when the window is full, in how many seconds enough
    starts leave it to allow one more (so that the worker need not ask before then).
    ``run(query_name, params)`` returns a query's rows as dicts, ``claim`` the claim's rows
    as tuples (see decode_claimed); ``params`` are claim_name's."""
    room = limit
    if max_running is not None:
        [running] = run("count_running", {"name": name})
        room = min(room, max_running - running["n"])
        if room <= 0:
            return [], None
    window: dict[str, Any] = {}
    rate_params: dict[str, Any] = {}
    if rate is not None:
        rate_params = {"name": name, "max": rate.starts, "per": rate.per}
        run("rate_forget", rate_params)
        [window] = run("rate_window", rate_params)
        if window["free_in"] is not None:
            return [], max(0.0, window["free_in"])
        room = min(room, rate.starts - window["used"])
    rows = claim("claim_name", {**params, "name": name, "limit": room})
    if rate is None or not rows:
        return rows, None
    run("rate_started", {**rate_params, "starts": len(rows)})
    if window["used"] + len(rows) < rate.starts:
        return rows, None
    [after] = run("rate_window", rate_params)
    return rows, None if after["free_in"] is None else max(0.0, after["free_in"])


def read_rate_use(run: RowRunner, name: str, t: TimeDecoder) -> RateUse | None:
    """A job type's rate-limit use now, from the limit logged with its latest start."""
    latest = run("rate_latest", {"name": name})
    if not latest:
        return None
    limit = RateLimit(latest[0]["max_starts"], latest[0]["period"])
    [window] = run("rate_window", {"name": name, "max": limit.starts, "per": limit.per})
    now = t(window["now"])
    assert now is not None
    return RateUse(name, limit, int(window["used"]), now, window["free_in"])


def job_params(job: NewJob, when: Callable[[datetime | None], Any]) -> dict[str, Any]:
    """A new job as query parameters; ``when`` encodes times for the dialect."""
    return {
        "queue": job.queue,
        "name": job.name,
        "args": job.args_json,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
        "run_at": when(job.run_at),
        "timeout": job.timeout,
        "unique_key": job.unique_key,
        "org_id": job.org_id,
        "created_by": job.created_by,
        "schedule_id": job.schedule_id,
        "fire_time": when(job.fire_time),
    }


INSERT_TRIES = 5  # a unique key can be freed between our insert and our look-up


def insert_or_find(run: Callable[[str], dict[str, Any] | None], find: str) -> tuple[int, bool]:
    """Insert a job that may conflict on its unique key or fire time; on conflict, the id
    of the job holding it. ``run(query_name)`` runs one named query and returns its row.
    Returns the id and whether the row was inserted."""
    for _ in range(INSERT_TRIES):
        row = run("insert_job")
        if row is not None:
            return int(row["id"]), True
        row = run(find)
        if row is not None:
            return int(row["id"]), False
    raise JobStateError("the job could not be inserted: its unique key kept changing hands")
