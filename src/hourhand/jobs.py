"""Job models: states, the job row, its attempts, handler specs and the handler's context."""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from hourhand import checks
from hourhand.errors import InvalidArguments, InvalidInput
from hourhand.ratelimits import RateLimit
from hourhand.retry import DEFAULT_RETRY, Retry
from hourhand.signatures import ArgumentTypes, check_handler

DEFAULT_QUEUE = "default"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_PRIORITY = 0  # higher runs first
MAX_CACHED_SIGNATURES = 64  # argument-name sets remembered as accepted, per job type
MAX_ATTEMPTS = 10_000  # the most attempts a job may have
MAX_CONCURRENCY = 1_000_000
MAX_PRIORITY = 1_000_000  # priorities run from -MAX_PRIORITY to MAX_PRIORITY


# How far a job type's own check of arguments looks (JobSpec.check; the built-in kinds):
# "args": at the arguments alone (a schedule's run: its schedule was checked when it was
# made, and a run is better failed with its reason than skipped); "config": also at the
# config file's settings (databases, the SMTP server, template files: a schedule);
# "all": also at what this process holds (secrets: an enqueue).
CheckDepth = Literal["args", "config", "all"]


def check_priority(value: Any) -> int:
    return checks.integer("priority", value, -MAX_PRIORITY, MAX_PRIORITY)


class JobState(enum.StrEnum):
    SCHEDULED = "scheduled"  # run_at is in the future
    QUEUED = "queued"  # ready to be claimed
    RUNNING = "running"  # claimed by a worker, lease held
    RETRYING = "retrying"  # an attempt failed; waits for run_at to try again
    COMPLETED = "completed"
    FAILED = "failed"  # out of attempts, or DoNotRetry: the dead-letter set
    CANCELLED = "cancelled"


WAITING_STATES = frozenset({JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING})
FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    COMPLETED = "completed"
    FAILED = "failed"  # the handler raised, or the job type is unknown to the worker
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    LOST = "lost"  # the worker's lease expired: killed, frozen or cut off
    INTERRUPTED = "interrupted"  # handed back by a worker shutting down; not counted


@dataclass(frozen=True)
class Job:
    """One job row, as stored."""

    id: int
    queue: str
    name: str  # the job type
    args: dict[str, Any]
    state: JobState
    priority: int
    attempt: int  # attempts started so far; the running attempt's number while running
    max_attempts: int
    run_at: datetime  # when it may run next (UTC)
    timeout: float | None  # seconds per attempt
    unique_key: str | None
    org_id: str | None  # user jobs only
    created_by: str | None  # user jobs only
    schedule_id: int | None  # jobs made by a schedule
    fire_time: datetime | None
    progress: float | None  # percent, 0..100
    progress_message: str | None
    result: Any  # JSON value returned by the handler
    error: str | None  # the last attempt's error message
    worker_id: str | None  # the worker holding (or that last held) it
    lease_expires_at: datetime | None
    cancel_requested: bool
    handbacks: int  # attempts handed back by workers shutting down (not counted in attempt)
    created_at: datetime
    started_at: datetime | None  # start of the latest attempt
    finished_at: datetime | None

    @classmethod
    def from_row(cls, **values: Any) -> Job:
        """A job from a database row's values, every field given in field order. Skips the
        frozen dataclass's ``__init__``, which sets 26 fields one ``object.__setattr__`` at a
        time: that was 5.9 µs of a busy worker's ~40 µs of CPU per job."""
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Job:
        """As :meth:`from_row`, taking the dict itself (it becomes the job's ``__dict__``:
        the caller must not keep it)."""
        job = object.__new__(cls)
        object.__setattr__(job, "__dict__", values)
        return job

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO-8601 UTC)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        out["state"] = str(self.state)
        return out


@dataclass(frozen=True)
class Attempt:
    """One execution of a job: the execution history."""

    id: int
    job_id: int
    attempt: int
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime
    outcome: Outcome
    duration: float | None  # seconds
    error: str | None
    traceback: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        out["outcome"] = str(self.outcome)
        return out


@dataclass(frozen=True)
class NewJob:
    """A job to insert: what enqueue has validated."""

    name: str
    args_json: str
    queue: str
    priority: int
    max_attempts: int
    run_at: datetime | None  # None: now, by the database clock
    timeout: float | None
    unique_key: str | None = None
    org_id: str | None = None
    created_by: str | None = None
    schedule_id: int | None = None
    fire_time: datetime | None = None


class EnqueueResult(int):
    """What an enqueue returns: the job's id (it *is* that int), and whether this call created
    the job. ``created`` is False when a unique key matched a job already waiting or running:
    that job's id is returned and this call's args, delay and priority are dropped."""

    created: bool

    def __new__(cls, job_id: int, created: bool = True) -> EnqueueResult:
        self = super().__new__(cls, job_id)
        self.created = created
        return self

    @property
    def id(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"EnqueueResult(id={int(self)}, created={self.created})"

    __str__ = int.__repr__


Handler = Callable[..., Any]


@dataclass(frozen=True)
class JobSpec:
    """A registered job type: its handler and defaults."""

    name: str
    handler: Handler
    queue: str = DEFAULT_QUEUE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry: Retry = DEFAULT_RETRY
    timeout: float | None = None  # seconds per attempt
    concurrency: int | None = None  # at most this many running at once, across all workers
    priority: int = DEFAULT_PRIORITY
    # at most this many starts in any period, across all workers: RateLimit, (N, seconds)
    # or "N/unit" text (normalized to a RateLimit)
    rate_limit: RateLimit | None = None
    # further checks of a job's arguments at enqueue, after their names and types:
    # ``check(args, depth)`` raises InvalidArguments (see CheckDepth)
    check: Callable[[Mapping[str, Any], CheckDepth], None] | None = field(
        default=None, repr=False, compare=False
    )
    admin_only: bool = False  # through hh.ops (CLI, API): cluster admins enqueue or schedule it
    is_async: bool = field(init=False)
    signature: inspect.Signature = field(init=False, repr=False)
    types: ArgumentTypes = field(init=False, repr=False, compare=False)
    _accepted: set[frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks.text("a job type's name", self.name)
        checks.integer(f"job {self.name!r}: max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)
        if self.timeout is not None:
            check_timeout(f"job {self.name!r}: timeout", self.timeout)
        if self.concurrency is not None:
            checks.integer(f"job {self.name!r}: concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        if self.rate_limit is not None:
            rate = RateLimit.parse(self.rate_limit, f"job {self.name!r}: rate_limit")
            object.__setattr__(self, "rate_limit", rate)
        signature = check_handler(self.name, self.handler, JobContext)
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.handler))
        object.__setattr__(self, "signature", signature)
        object.__setattr__(self, "types", ArgumentTypes(self.name, self.handler, signature))
        object.__setattr__(self, "_accepted", set())

    @property
    def limited(self) -> bool:
        """Claimed on its own, under a per-type lock: a concurrency or rate limit."""
        return self.concurrency is not None or self.rate_limit is not None

    def accepts(self, name: str) -> bool:
        """Whether the handler takes an argument called ``name`` (after the context)."""
        params = list(self.signature.parameters.values())[1:]
        return any(
            p.kind == p.VAR_KEYWORD
            or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
            for p in params
        )

    def check_args(
        self,
        args: Mapping[str, Any],
        args_json: str | None = None,
        *,
        depth: CheckDepth = "all",
    ) -> None:
        """Raise InvalidArguments unless ``handler(ctx, **args)`` would bind, with values
        that fit the handler's type hints (``args_json``: the args encoded, if at hand),
        and pass the job type's own ``check`` (as deep as ``depth`` says)."""
        self._check_names(args)
        self.types.check(checks.encode_json(args) if args_json is None else args_json)
        if self.check is not None:
            self.check(args, depth)

    def check_args_many(self, args_list: Sequence[Mapping[str, Any]], encoded: list[str]) -> None:
        """:meth:`check_args` for a batch (``encoded``: each item's JSON): names per item,
        types in one pass."""
        for args in args_list:
            self._check_names(args)
        self.types.check_many(encoded)
        if self.check is not None:
            for index, args in enumerate(args_list):
                try:
                    self.check(args, "all")
                except InvalidArguments as exc:
                    raise InvalidArguments(f"item {index}: {exc}") from None

    def _check_names(self, args: Mapping[str, Any]) -> None:
        keys = frozenset(args)
        if keys in self._accepted:  # binding depends on the names only: checked before
            return
        try:
            self.signature.bind(None, **args)
        except TypeError as exc:
            message = str(exc)
            first = next(iter(self.signature.parameters))
            if first in keys:
                message = (
                    f"{first!r} is the handler's first parameter, which receives the job "
                    "context; rename the argument or the parameter"
                )
            raise InvalidArguments(
                f"job {self.name!r} does not accept these arguments: {message}"
            ) from None
        if len(self._accepted) < MAX_CACHED_SIGNATURES:
            self._accepted.add(keys)


def check_timeout(what: str, value: Any) -> float:
    """A timeout: finite seconds, more than 0."""
    return checks.seconds(what, value, inclusive=False)


def encode_args(name: str, args: Any) -> str:
    """Validate job arguments (a JSON object with string keys) and encode them."""
    if args is None:
        return "{}"
    if not isinstance(args, Mapping):
        raise InvalidArguments(
            f"job {name!r}: arguments must be a JSON object (a dict), got {type(args).__name__}"
        )
    try:
        return checks.encode_json(args)
    except InvalidInput as exc:
        raise InvalidArguments(f"job {name!r}: arguments cannot be stored: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InvalidArguments(
            f"job {name!r}: arguments are not JSON-serializable: {exc}"
        ) from None


_EVENTS_LOCK = threading.Lock()  # makes JobContext's cancel events; held for a moment


class JobContext:
    """What a handler gets as its first argument."""

    def __init__(
        self,
        job: Job,
        write_progress: Callable[[float, str | None], None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.job = job
        self.cancel_reason: str | None = None
        # Made on first use (most handlers never ask): a threading.Event and a logger
        # adapter per job were a tenth of a busy worker's CPU.
        self._cancel_event: threading.Event | None = None
        self._cancelled = False
        self._logger: logging.LoggerAdapter[logging.Logger] | None = None
        self._write_progress = write_progress
        self._loop = loop
        self._executor = executor
        self._loop_thread = threading.get_ident() if loop is not None else None

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger named ``hourhand.job.<type>``, its records tagged with job_id and
        attempt."""
        if self._logger is None:
            self._logger = logging.LoggerAdapter(
                logging.getLogger(f"hourhand.job.{self.job.name}"),
                {"job_id": self.job.id, "attempt": self.job.attempt},
            )
        return self._logger

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the job is cancelled, times out or its worker shuts down: a sync
        handler can ``ctx.cancel_event.wait(seconds)`` instead of sleeping."""
        event = self._cancel_event
        if event is None:
            with _EVENTS_LOCK:  # against a cancel arriving while it is made
                if self._cancel_event is None:
                    self._cancel_event = threading.Event()
                    if self._cancelled:
                        self._cancel_event.set()
                event = self._cancel_event
        return event

    def request_stop(self, reason: str) -> None:
        """Ask the handler to stop (the worker calls this): sets ``cancelled`` and
        ``cancel_event``."""
        self.cancel_reason = reason
        with _EVENTS_LOCK:
            self._cancelled = True
            event = self._cancel_event
        if event is not None:
            event.set()

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def attempt(self) -> int:
        return self.job.attempt

    @property
    def args(self) -> dict[str, Any]:
        return self.job.args

    @property
    def org_id(self) -> str | None:
        return self.job.org_id

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled, timed out or its worker is shutting down."""
        return self._cancelled

    def progress(self, percent: float, message: str | None = None) -> Awaitable[None]:
        """Record progress (0-100 and an optional message) on the job.

        Async handlers ``await ctx.progress(50, "half way")``; sync handlers call it plainly
        (it writes before returning)."""
        if not 0 <= percent <= 100:
            raise InvalidInput(f"progress must be between 0 and 100, got {percent}")
        if self._write_progress is None:
            return _Done()
        if self._loop is not None and threading.get_ident() == self._loop_thread:
            return self._loop.run_in_executor(
                self._executor, self._write_progress, float(percent), message
            )
        if self._executor is not None:  # a sync handler's thread: use the worker's DB threads
            self._executor.submit(self._write_progress, float(percent), message).result()
        else:
            self._write_progress(float(percent), message)
        return _Done()


class _Done:
    """An awaitable that is already done."""

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()
