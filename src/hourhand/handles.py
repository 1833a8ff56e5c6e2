"""Job handles: what ``@hh.job`` and ``@hh.cron`` return.

A handle enqueues its job type through the function's own parameters, checked against the
function's signature and type hints before anything is stored::

    @hh.job("reports:generate")
    async def generate(ctx: JobContext, report_id: str) -> dict: ...

    generate.enqueue(report_id="r1")
    generate.configure(delay=30, unique_key="r1").enqueue(report_id="r1")
    await generate.enqueue_async(report_id="r2")

Calling the handle calls the function itself (``await generate(ctx, report_id="r1")`` in a
test), so decorating changes nothing for code that calls it directly.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypedDict, TypeVar

from hourhand.errors import InvalidArguments, InvalidInput
from hourhand.jobs import EnqueueResult, JobSpec

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from hourhand.app import Hourhand

P = ParamSpec("P")
R = TypeVar("R")
H = TypeVar("H", bound=Callable[..., Any])  # a hook


class EnqueueOptions(TypedDict, total=False):
    """The options of :meth:`Hourhand.enqueue` that a handle can carry (see configure)."""

    delay: float | timedelta | None
    run_at: datetime | None
    priority: int | None
    queue: str | None
    max_attempts: int | None
    timeout: float | None
    unique_key: str | None
    org_id: str | None
    created_by: str | None
    connection: Any  # your connection: the job commits with your transaction


class JobHandle(Generic[P, R]):
    """A registered job type, bound to its app. ``options`` are enqueue options applied to
    every enqueue through this handle (see :meth:`configure`)."""

    def __init__(
        self,
        app: Hourhand,
        name: str,
        fn: Callable[Concatenate[Any, P], R],
        options: Mapping[str, Any] | None = None,
    ) -> None:
        functools.update_wrapper(self, fn, updated=())  # name and doc; not fn's attributes
        self.app = app
        self.name = name
        self.fn = fn
        self.options: dict[str, Any] = dict(options or {})

    def __call__(self, ctx: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function directly (no job is made): for tests."""
        return self.fn(ctx, *args, **kwargs)

    def __repr__(self) -> str:
        extra = f" {self.options}" if self.options else ""
        return f"<job {self.name!r}{extra}>"

    @property
    def spec(self) -> JobSpec:
        return self.app.spec(self.name)

    def configure(self, **options: Unpack[EnqueueOptions]) -> JobHandle[P, R]:
        """A handle that enqueues with these options (and this handle's others; an option
        given as None leaves the earlier value)."""
        given = {k: v for k, v in options.items() if v is not None}
        unknown = set(given) - set(EnqueueOptions.__annotations__)
        if unknown:
            raise InvalidInput(f"configure: unknown option {sorted(unknown)[0]!r}")
        merged = {**self.options, **given}
        if "delay" in merged and "run_at" in merged:  # the later one wins
            merged.pop("run_at" if "delay" in given else "delay")
        return JobHandle(self.app, self.name, self.fn, merged)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> EnqueueResult:
        """Add a job with these arguments (the function's own, after the context)."""
        return self.app.enqueue(self.name, self.arguments(args, kwargs), **self.options)

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> EnqueueResult:
        if "connection" in self.options:  # a connection belongs to the caller's thread
            raise InvalidInput("enqueue_async takes no connection: call enqueue")
        arguments = self.arguments(args, kwargs)
        return await asyncio.to_thread(self.app.enqueue, self.name, arguments, **self.options)

    def enqueue_many(self, args_list: Iterable[Mapping[str, Any]]) -> list[int]:
        """One job per mapping of arguments, in one statement (no unique_key)."""
        return self.app.enqueue_many(self.name, args_list, **self.options)

    # -- hooks of this job type (see docs/hooks.md) ------------------------------------------
    def before_job(self, fn: H) -> H:
        """``@generate.before_job``: ``fn(ctx)`` before each attempt of this job type."""
        return self.app.before_job(fn, job=self.name)

    def after_job(self, fn: H) -> H:
        """``@generate.after_job``: ``fn(ctx, result)`` after each attempt of this job type."""
        return self.app.after_job(fn, job=self.name)

    def on_failure(self, fn: H) -> H:
        """``@generate.on_failure``: ``fn(ctx, result)`` for each failed attempt."""
        return self.app.on_failure(fn, job=self.name)

    def on_dead(self, fn: H) -> H:
        """``@generate.on_dead``: ``fn(ctx, result)`` when a job of this type fails for good."""
        return self.app.on_dead(fn, job=self.name)

    def arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The job's arguments, by name: positional ones are matched to parameters."""
        if not args:
            return dict(kwargs)
        params = self.spec.signature.parameters
        if next(iter(params.values())).kind == inspect.Parameter.VAR_POSITIONAL:
            raise InvalidArguments(
                f"job {self.name!r}: pass arguments by name (its handler takes *args, which "
                "a job cannot carry)"
            )
        try:
            bound = self.spec.signature.bind_partial(None, *args, **kwargs)
        except TypeError as exc:
            raise InvalidArguments(
                f"job {self.name!r} does not accept these arguments: {exc}"
            ) from None
        context = next(iter(params))
        arguments: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = params[name].kind
            if name == context:
                continue
            if kind == inspect.Parameter.VAR_POSITIONAL:
                raise InvalidArguments(
                    f"job {self.name!r}: pass arguments by name (its handler takes *{name}, "
                    "which a job cannot carry)"
                )
            if kind == inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            else:
                arguments[name] = value
        return arguments
