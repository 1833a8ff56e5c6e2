"""Hooks: code of the application's that runs around every attempt, for error reporters,
tracing and metrics.

Four points, each registered for the whole app or for one job type (``job=``)::

    before_job   fn(ctx)           every attempt this worker starts, before its handler
    after_job    fn(ctx, result)   every attempt this worker started, once its end is recorded
    on_failure   fn(ctx, result)   an attempt that failed, timed out or was lost, recorded
    on_dead      fn(ctx, result)   the job entered ``failed`` (the dead-letter set)

``result`` is an :class:`AttemptResult`. How hooks run (the details are in docs/hooks.md):

- nothing a hook raises fails the job or stops the worker: it is logged with the hook's name,
  the job's type, id and attempt (never its arguments) and the next hook runs;
- async hooks run on the worker's event loop, sync ones on a few threads of their own (never
  the threads the worker's database calls use); a hook is waited for at most HOOK_TIMEOUT;
- before hooks run in the attempt's task: they are part of the attempt (its duration, its
  timeout). The other hooks run in a task per attempt once its end is recorded, so the
  recording and the next claims never wait for them;
- on_failure and on_dead fire in the worker that *records* the end: the one that ran the
  attempt, or the one that rescued it when its worker died (its lease expired).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from hourhand import checks
from hourhand.errors import InvalidInput, UnknownJobType
from hourhand.jobs import Job, JobContext, JobSpec, JobState, Outcome
from hourhand.running import describe
from hourhand.store import AttemptEnd, Completion

if TYPE_CHECKING:
    from hourhand.running import Run

logger = logging.getLogger(__name__)

HookPoint = Literal["before_job", "after_job", "on_failure", "on_dead"]
HOOK_POINTS: tuple[HookPoint, ...] = ("before_job", "after_job", "on_failure", "on_dead")
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMEOUT, Outcome.LOST})

HOOK_TIMEOUT = 10.0  # seconds one hook call is waited for, at most
HOOK_THREADS = 4  # threads for sync hooks, per worker
HOOKS_AT_STOP = 10.0  # seconds a stopping worker waits for hooks still running

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended, as after_job, on_failure and on_dead hooks see it."""

    outcome: Outcome  # completed, failed, timeout, cancelled, lost or interrupted
    # the job's state once this end was recorded; None: not recorded by this worker, because
    # its claim was lost (another worker found the lease expired and took the job over)
    state: JobState | None
    error: str | None = None  # "Type: message" of an attempt that did not complete
    traceback: str | None = None
    exception: BaseException | None = None  # what the handler raised, if it raised here
    result: Any = None  # what the handler returned, for a completed attempt
    duration: float | None = None  # seconds
    retry_in: float | None = None  # seconds until the next try, when it will be retried
    next_run_at: datetime | None = None  # about when (this worker's clock), when retried
    rescued: bool = False  # recorded by a worker that found the attempt's lease expired

    @property
    def will_retry(self) -> bool:
        """The job will run again by its retry policy (state ``retrying``)."""
        return self.state == JobState.RETRYING

    @property
    def failed(self) -> bool:
        """The attempt failed: the handler raised, timed out, or its worker was lost."""
        return self.outcome in FAILED_OUTCOMES

    @property
    def dead(self) -> bool:
        """The job entered the dead-letter set (state ``failed``) with this attempt."""
        return self.state == JobState.FAILED


@dataclass(frozen=True)
class Hook:
    """One registered hook."""

    point: HookPoint
    fn: Callable[..., Any]
    job: str | None  # None: every job type
    name: str  # for log lines: module.qualname
    is_async: bool


class Hooks:
    """An app's hooks, in registration order."""

    def __init__(self) -> None:
        self._app: dict[HookPoint, list[Hook]] = {point: [] for point in HOOK_POINTS}
        self._typed: dict[HookPoint, dict[str, list[Hook]]] = {p: {} for p in HOOK_POINTS}

    def add(self, point: HookPoint, fn: Callable[..., Any], job: str | None = None) -> Hook:
        """Register ``fn`` at ``point`` (for job type ``job`` only, if given)."""
        if point not in HOOK_POINTS:
            raise InvalidInput(f"unknown hook point {point!r} (one of: {', '.join(HOOK_POINTS)})")
        if not callable(fn):
            raise InvalidInput(f"{point}: expected a function, got {type(fn).__name__}")
        if job is not None:
            if not isinstance(job, str):
                raise InvalidInput(
                    f"{point}: job must be a job type's name, got {type(job).__name__}"
                )
            checks.text(f"{point}: job", job)
        hook = Hook(point, fn, job, _name_of(fn), _is_async(fn))
        _check_signature(hook)
        if job is None:
            self._app[point].append(hook)
        else:
            self._typed[point].setdefault(job, []).append(hook)
        return hook

    def for_job(self, point: HookPoint, job: str) -> list[Hook]:
        """The hooks to run at ``point`` for a job of type ``job``: the app's, then the
        type's, each in registration order."""
        typed = self._typed[point].get(job)
        return [*self._app[point], *typed] if typed else self._app[point]

    def any_for(self, job: str) -> bool:
        return any(self._app[p] or job in self._typed[p] for p in HOOK_POINTS)

    def __len__(self) -> int:
        return sum(len(self._app[p]) + sum(map(len, self._typed[p].values())) for p in HOOK_POINTS)

    def check_scopes(self, registry: dict[str, JobSpec]) -> None:
        """Raise UnknownJobType for a hook scoped to a job type the app does not define (a
        typo would otherwise make it never run)."""
        for point in HOOK_POINTS:
            for job, hooks in self._typed[point].items():
                if job not in registry:
                    known = ", ".join(sorted(registry)) or "none"
                    raise UnknownJobType(
                        f"hook {hooks[0].name} ({point}) is for job type {job!r}, which is "
                        f"not registered (registered: {known})"
                    )


class HookRegistrar:
    """``hh.before_job`` and its siblings: ``@hh.on_failure``, ``hh.on_failure(fn)``,
    ``hh.on_failure(fn, job="reports:generate")`` and ``@hh.on_failure(job=...)``.
    Returns the function unchanged."""

    def __init__(self, hooks: Hooks, point: HookPoint) -> None:
        self._hooks = hooks
        self.point = point

    @overload
    def __call__(self, fn: H, /, *, job: str | None = None) -> H: ...

    @overload
    def __call__(self, fn: None = None, /, *, job: str | None = None) -> Callable[[H], H]: ...

    def __call__(self, fn: H | None = None, /, *, job: str | None = None) -> H | Callable[[H], H]:
        if fn is not None:
            self._hooks.add(self.point, fn, job)
            return fn

        def register(fn: H) -> H:
            self._hooks.add(self.point, fn, job)
            return fn

        return register

    def __repr__(self) -> str:
        return f"<hook registrar {self.point}>"


def _name_of(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 (a callable object's async __call__)
    )


def _check_signature(hook: Hook) -> None:
    try:
        signature = inspect.signature(hook.fn)
    except (TypeError, ValueError):  # some builtins have none: they are called as they are
        return
    args = (None,) if hook.point == "before_job" else (None, None)
    try:
        signature.bind(*args)
    except TypeError:
        wanted = "(ctx)" if hook.point == "before_job" else "(ctx, result)"
        raise InvalidInput(
            f"{hook.point} hook {hook.name} must accept {wanted}; its signature is {signature}"
        ) from None


def _ended(
    end: AttemptEnd,
    state: JobState | None,
    *,
    exception: BaseException | None = None,
    rescued: bool = False,
) -> AttemptResult:
    retry_in = end.retry_in if state == JobState.RETRYING else None
    return AttemptResult(
        end.outcome,
        state,
        error=end.error,
        traceback=end.traceback,
        exception=exception,
        duration=end.duration,
        retry_in=retry_in,
        next_run_at=None if retry_in is None else datetime.now(UTC) + timedelta(seconds=retry_in),
        rescued=rescued,
    )


class HookRunner:
    """Runs an app's hooks for one worker, on its event loop."""

    def __init__(self, hooks: Hooks, registry: dict[str, JobSpec]) -> None:
        hooks.check_scopes(registry)
        self.hooks = hooks
        self._pending: dict[tuple[int, int], Run] = {}  # started here, end not recorded yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads = _HookThreads(HOOK_THREADS)

    # -- what the worker calls ------------------------------------------------------------
    async def before(self, run: Run) -> None:
        """In the attempt's task, before its handler: run the before hooks; remember the
        run, for the hooks that follow its end."""
        name = run.job.name
        if not self.hooks.any_for(name):
            return
        self._pending[run.pair] = run
        for hook in self.hooks.for_job("before_job", name):
            await self._call(hook, run.ctx, (run.ctx,))

    def settled(self, record: Completion | AttemptEnd, state: JobState | None) -> None:
        """The recorder recorded an end (``state``: the job's new state; None: not ours any
        more, or given up on): start the hooks that follow it."""
        run = self._pending.pop((record.job_id, record.attempt), None)
        if run is None:
            return
        try:
            if isinstance(record, Completion):
                result = AttemptResult(
                    Outcome.COMPLETED,
                    state,
                    result=run.result,
                    duration=record.duration,
                )
            else:
                result = _ended(record, state, exception=run.exception)
            self._spawn(run.ctx, result)
        except Exception:  # a bug here must not stop the recorder that called us
            logger.exception("job %d attempt %d: its hooks could not be started", *run.pair)

    def lost(self, run: Run) -> None:
        """The attempt's claim was lost (another worker took the job over): nothing of it is
        recorded here; after_job still runs, with outcome ``lost`` and no state."""
        if self._pending.pop(run.pair, None) is None:
            return
        error = "lost: the lease expired and another worker took the job over"
        self._spawn(run.ctx, AttemptResult(Outcome.LOST, None, error, duration=run.elapsed))

    def rescued(self, job: Job, end: AttemptEnd, state: JobState) -> None:
        """This worker recorded the end of another worker's attempt (its lease expired): the
        on_failure and on_dead hooks run here (after_job ran, if at all, where it started)."""
        if self.hooks.for_job("on_failure", job.name) or self.hooks.for_job("on_dead", job.name):
            self._spawn(JobContext(job), _ended(end, state, rescued=True))

    async def close(self, timeout: float = HOOKS_AT_STOP) -> None:
        """At shutdown: wait up to ``timeout`` for the hooks still running, then give up on
        them (sync hooks' threads are daemons: they never keep the process alive)."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            if late:
                logger.warning(
                    "%d attempt(s)' hooks still running after %gs; the worker stops without them",
                    len(late),
                    timeout,
                )
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        self._threads.shutdown()
        self._threads = _HookThreads(HOOK_THREADS)  # fresh ones, should the worker run again

    # -- running hooks --------------------------------------------------------------------
    def _spawn(self, ctx: JobContext, result: AttemptResult) -> None:
        name = ctx.name
        hooks: list[Hook] = []
        if result.failed and result.state is not None:
            hooks += self.hooks.for_job("on_failure", name)
        if result.dead:
            hooks += self.hooks.for_job("on_dead", name)
        if not result.rescued:
            hooks += self.hooks.for_job("after_job", name)
        if not hooks:
            return
        task = asyncio.get_running_loop().create_task(
            self._run_all(hooks, ctx, result), name=f"hourhand-hooks-{ctx.job_id}-{ctx.attempt}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_all(self, hooks: list[Hook], ctx: JobContext, result: AttemptResult) -> None:
        for hook in hooks:
            await self._call(hook, ctx, (ctx, result))

    async def _call(self, hook: Hook, ctx: JobContext, args: tuple[Any, ...]) -> None:
        """Run one hook, waiting HOOK_TIMEOUT at most; log what it raises. Only a
        cancellation of the task calling it (the attempt was stopped) and GeneratorExit (the
        coroutine is being closed) go through."""
        deadline = asyncio.timeout(HOOK_TIMEOUT)
        try:
            async with deadline:
                if hook.is_async:
                    value = hook.fn(*args)
                else:
                    value = await asyncio.wrap_future(self._threads.submit(hook.fn, *args))
                if inspect.isawaitable(value):  # also what a "sync" callable object returned
                    await value
        except GeneratorExit:
            raise
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the attempt was stopped (timeout, cancel, shutdown) or we are
            self._failed(hook, ctx, exc)  # the hook cancelled itself
        except TimeoutError as exc:
            if not deadline.expired():
                self._failed(hook, ctx, exc)
                return
            logger.warning(
                "hook %s (%s) for job %d (type %r) attempt %d did not finish within %gs; "
                "going on without it",
                hook.name,
                hook.point,
                ctx.job_id,
                ctx.name,
                ctx.attempt,
                HOOK_TIMEOUT,
            )
        except BaseException as exc:  # nothing a hook raises fails the job or stops the worker
            self._failed(hook, ctx, exc)

    @staticmethod
    def _failed(hook: Hook, ctx: JobContext, exc: BaseException) -> None:
        logger.error(
            "hook %s (%s) raised for job %d (type %r) attempt %d: %s",
            hook.name,
            hook.point,
            ctx.job_id,
            ctx.name,
            ctx.attempt,
            describe(exc),
            exc_info=exc,
        )


_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class _HookThreads:
    """A few daemon threads for sync hooks: unlike a ThreadPoolExecutor's, a thread stuck in
    a hook never keeps the process from exiting. Started as needed, up to ``size``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if len(self._threads) < self._size:
                    thread = threading.Thread(
                        target=self._work,
                        name=f"hourhand-hook-{len(self._threads) + 1}",
                        daemon=True,
                    )
                    thread.start()
                    self._threads.append(thread)
        return future

    def _work(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            future, fn, args = work
            del work
            if future.set_running_or_notify_cancel():  # False: given up on before it started
                try:
                    value = fn(*args)
                except BaseException as exc:  # reported to the caller, never raised here
                    future.set_exception(exc)
                else:
                    future.set_result(value)
            del future, fn, args
            self._idle.release()

    def shutdown(self) -> None:
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []
