"""Bad input gets a clear error naming the problem; bad handlers never kill the worker."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from hourhand import (
    ConfigurationError,
    DatabaseUnavailable,
    Hourhand,
    InvalidArguments,
    InvalidInput,
    JobContext,
    JobNotFound,
    JobState,
    JobStateError,
    Retry,
    UnknownJobType,
)
from tests.conftest import wait_until


@pytest.fixture
def app(hh: Hourhand) -> Hourhand:
    @hh.job("greet")
    async def greet(ctx: JobContext, name: str) -> str:
        return f"hello {name}"

    return hh


def test_unknown_job_type_is_refused(app: Hourhand) -> None:
    with pytest.raises(UnknownJobType, match=r"unknown job type 'nope'.*greet"):
        app.enqueue("nope")


@pytest.mark.parametrize("args", [[1, 2], "name", 3])
def test_args_must_be_a_json_object(app: Hourhand, args: object) -> None:
    with pytest.raises(InvalidArguments, match="must be a JSON object"):
        app.enqueue("greet", args)  # type: ignore[arg-type]


def test_args_must_be_json_serializable(app: Hourhand) -> None:
    with pytest.raises(InvalidArguments, match="not JSON-serializable"):
        app.enqueue("greet", {"name": object()})
    with pytest.raises(InvalidArguments, match="not JSON-serializable"):
        app.enqueue("greet", {"name": float("nan")})


def test_args_must_fit_the_handler(app: Hourhand) -> None:
    with pytest.raises(InvalidArguments, match="does not accept these arguments"):
        app.enqueue("greet", {"nam": "typo"})


def test_negative_delay_naive_datetime_and_both(app: Hourhand) -> None:
    with pytest.raises(InvalidInput, match="delay must be a finite number of seconds, from 0"):
        app.enqueue("greet", {"name": "x"}, delay=-1)
    with pytest.raises(InvalidInput, match="naive datetime"):
        app.enqueue("greet", {"name": "x"}, run_at=datetime(2030, 1, 1))
    with pytest.raises(InvalidInput, match="either delay or run_at"):
        app.enqueue("greet", {"name": "x"}, delay=1, run_at=datetime(2030, 1, 1))


def test_bad_options(app: Hourhand) -> None:
    with pytest.raises(InvalidInput, match="max_attempts"):
        app.enqueue("greet", {"name": "x"}, max_attempts=0)
    with pytest.raises(InvalidInput, match="priority"):
        app.enqueue("greet", {"name": "x"}, priority="high")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="already registered"):
        app.job("greet")(lambda ctx: None)
    with pytest.raises(InvalidInput, match="factor"):
        Retry.exponential(factor=0.5)


def test_missing_job_and_wrong_state(app: Hourhand, run_worker) -> None:
    with pytest.raises(JobNotFound, match="no job with id 424242"):
        app.get_job(424242)
    job_id = app.enqueue("greet", {"name": "x"})
    with pytest.raises(JobStateError, match="is queued"):
        app.retry(job_id)
    run_worker()
    wait_until(lambda: app.get_job(job_id).state == JobState.COMPLETED)
    with pytest.raises(JobStateError, match="is completed"):
        app.cancel(job_id)


def test_bad_database_urls() -> None:
    with pytest.raises(ConfigurationError, match="unsupported scheme 'mysql'"):
        Hourhand("mysql://localhost/db").store  # noqa: B018
    with pytest.raises(ConfigurationError, match="bad database URL"):
        Hourhand("hourhand.db").store  # noqa: B018
    with pytest.raises(DatabaseUnavailable, match="no folder"):
        Hourhand("sqlite:////no/such/dir/x.db").store  # noqa: B018


def test_unreachable_postgres_names_the_server_without_the_password() -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot connect to PostgreSQL") as info:
        Hourhand("postgresql://u:hunter2@127.0.0.1:1/db").store  # noqa: B018
    assert "hunter2" not in str(info.value)


class Fatal(BaseException):
    pass


@pytest.mark.parametrize(
    "exc",
    [SystemExit(3), KeyboardInterrupt(), Fatal("boom"), GeneratorExit(), asyncio.CancelledError()],
)
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_handler_raising_base_exceptions_never_kills_the_worker(
    hh: Hourhand, run_worker, exc: BaseException, kind: str
) -> None:
    if kind == "async":

        @hh.job("explode", max_attempts=1)
        async def explode(ctx: JobContext) -> None:
            raise exc
    else:

        @hh.job("explode", max_attempts=1)
        def explode(ctx: JobContext) -> None:
            raise exc

    @hh.job("after")
    async def after(ctx: JobContext) -> str:
        return "still alive"

    bad = hh.enqueue("explode", priority=1)
    good = hh.enqueue("after")
    worker = run_worker(concurrency=1)
    wait_until(lambda: hh.get_job(good).state == JobState.COMPLETED)
    assert hh.get_job(bad).state == JobState.FAILED
    assert type(exc).__name__ in (hh.get_job(bad).error or "")
    assert worker.thread.is_alive()


def test_non_json_result_fails_the_job_clearly(hh: Hourhand, run_worker) -> None:
    @hh.job("weird")
    async def weird(ctx: JobContext) -> object:
        return {1, 2}

    job_id = hh.enqueue("weird")
    run_worker()
    wait_until(lambda: hh.get_job(job_id).state == JobState.FAILED)
    assert "not JSON-serializable" in (hh.get_job(job_id).error or "")
