"""What a new user expects of enqueue: handles, checked arguments, unique keys that say what
they did, waiting for a result, one log line per attempt, prompt cancels."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from hourhand import Hourhand, JobContext, JobState, Retry
from hourhand.errors import ConfigurationError, InvalidArguments, InvalidInput
from hourhand.jobs import EnqueueResult
from tests.conftest import wait_until


def test_a_repeated_unique_key_says_that_nothing_was_created(hh: Hourhand) -> None:
    @hh.job("mail")
    def mail(ctx: JobContext, to: str) -> None:
        return None

    first = hh.enqueue("mail", {"to": "a@example.com"}, unique_key="k1")
    again = hh.enqueue("mail", {"to": "b@example.com"}, unique_key="k1", delay=60, priority=9)
    assert isinstance(first, EnqueueResult) and first.created
    assert again == first and again.id == first.id and not again.created
    job = hh.get_job(again)
    assert job.args == {"to": "a@example.com"} and job.priority == 0  # the first call's
    assert hh.counts()["queued"] == sum(hh.counts().values()) == 1
    other = mail.configure(unique_key="k2").enqueue(to="c@example.com")
    assert other.created and other != first


def test_an_enqueue_result_is_the_job_id_everywhere_an_int_goes(hh: Hourhand) -> None:
    @hh.job("noop")
    def noop(ctx: JobContext) -> None:
        return None

    result = hh.enqueue("noop")
    assert json.dumps({"id": result}) == f'{{"id": {int(result)}}}'
    assert str(result) == str(int(result)) and f"{result}" == str(int(result))
    assert repr(result) == f"EnqueueResult(id={int(result)}, created=True)"
    assert hh.get_job(result).id == result
    assert hh.list_jobs(before_id=result + 1)[0].id == result  # bound as a parameter


def test_a_handler_without_the_context_parameter_is_refused_when_registered() -> None:
    hh = Hourhand("sqlite:///unused.db")  # nothing is opened by registering

    def to_only(to: str) -> None: ...

    def nothing() -> None: ...

    def keyword_only(*, ctx: JobContext) -> None: ...

    with pytest.raises(InvalidInput, match=r"first parameter 'to' is annotated str.*job context"):
        hh.job("a")(to_only)
    with pytest.raises(InvalidInput, match="takes no parameters"):
        hh.job("b")(nothing)
    with pytest.raises(InvalidInput, match="keyword-only"):
        hh.job("c")(keyword_only)
    assert hh.own_job_types() == []  # (only hourhand's own: hourhand.http, ...)
    assert not Path("unused.db").exists()


def test_an_argument_named_like_the_context_parameter_is_refused_with_why(hh: Hourhand) -> None:
    @hh.job("loose")
    def loose(context, to):  # type: ignore[no-untyped-def]  # untyped: accepted
        return None

    with pytest.raises(InvalidArguments, match="'context' is the handler's first parameter"):
        hh.enqueue("loose", {"context": 1, "to": "x"})


def test_arguments_are_checked_against_the_type_hints_before_anything_is_stored(
    hh: Hourhand,
) -> None:
    @hh.job("report")
    def report(
        ctx: JobContext,
        rows: int,
        kind: Literal["pdf", "csv"] = "pdf",
        tags: list[str] | None = None,
        extra: Any = None,
    ) -> None:
        return None

    with pytest.raises(InvalidArguments, match=r"argument 'rows': .*valid integer \(got str\)"):
        hh.enqueue("report", {"rows": "many"})
    with pytest.raises(InvalidArguments, match="argument 'rows'"):
        hh.enqueue("report", {"rows": "5"})  # strict: the handler would get a str
    with pytest.raises(InvalidArguments, match=r"argument 'tags'\[1\]"):
        report.enqueue(rows=1, tags=["a", 2])  # type: ignore[list-item]
    with pytest.raises(InvalidArguments, match="argument 'kind'"):
        hh.enqueue("report", {"rows": 1, "kind": "doc"})
    with pytest.raises(InvalidArguments, match=r"item 2: argument 'rows'"):
        hh.enqueue_many("report", [{"rows": 1}, {"rows": 2}, {"rows": 2.5}])
    with pytest.raises(InvalidArguments, match=r"item 1: .*not JSON-serializable"):
        hh.enqueue_many("report", [{"rows": 1}, {"rows": 2, "extra": object()}])
    with pytest.raises(InvalidArguments, match="missing a required argument: 'rows'"):
        hh.enqueue_many("report", [{"rows": 1}, {}])
    assert sum(hh.counts().values()) == 0
    ids = hh.enqueue_many("report", [{"rows": 1}, {"rows": 2, "kind": "csv", "tags": ["x"]}])
    one = report.enqueue(3, "csv", extra={"free": ["form"]})
    assert [hh.get_job(i).args for i in [*ids, one]] == [
        {"rows": 1},
        {"rows": 2, "kind": "csv", "tags": ["x"]},
        {"rows": 3, "kind": "csv", "extra": {"free": ["form"]}},
    ]


def test_a_secret_argument_is_not_repeated_in_the_type_error(hh: Hourhand) -> None:
    @hh.job("login")
    def login(ctx: JobContext, pin: int) -> None:
        return None

    with pytest.raises(InvalidArguments) as caught:
        hh.enqueue("login", {"pin": "hunter2-secret"})
    assert "hunter2" not in str(caught.value)


def test_the_handle_enqueues_with_options_and_calling_it_runs_the_function(
    hh: Hourhand,
) -> None:
    @hh.job("reports:generate", priority=1)
    async def generate(ctx: JobContext, report_id: str, pages: int = 1) -> dict[str, Any]:
        return {"report": report_id, "pages": pages}

    assert generate.name == "reports:generate" and generate.__name__ == "generate"
    plain = generate.enqueue(report_id="r1")
    positional = generate.enqueue("r2", 3)
    later = generate.configure(delay=30, priority=5, org_id="org_1", created_by="u_1")
    keyed = later.configure(unique_key="r3").enqueue(report_id="r3")
    in_async = asyncio.run(generate.enqueue_async(report_id="r4"))
    jobs = {j.id: j for j in hh.list_jobs()}
    assert jobs[plain].args == {"report_id": "r1"} and jobs[plain].priority == 1
    assert jobs[positional].args == {"report_id": "r2", "pages": 3}
    assert jobs[keyed].state == JobState.SCHEDULED and jobs[keyed].priority == 5
    assert (jobs[keyed].org_id, jobs[keyed].created_by, jobs[keyed].unique_key) == (
        "org_1",
        "u_1",
        "r3",
    )
    assert jobs[keyed].run_at > datetime.now(UTC) + timedelta(seconds=20)
    assert jobs[in_async].args == {"report_id": "r4"}
    assert generate.options == {}  # configure made new handles
    with pytest.raises(InvalidArguments, match="report_id"):
        generate.enqueue(pages=2)  # type: ignore[call-arg]
    # calling the handle calls the function: no job
    assert asyncio.run(generate(None, "direct", pages=2)) == {"report": "direct", "pages": 2}
    assert len(hh.list_jobs()) == 4


def test_cron_returns_a_handle_too(hh: Hourhand) -> None:
    @hh.cron("0 3 * * *", name="nightly")
    def nightly(ctx: JobContext, batch: int = 10) -> int:
        return batch

    assert nightly(None, batch=3) == 3
    job = hh.get_job(nightly.enqueue(batch=5))
    assert job.name == "nightly" and job.args == {"batch": 5}


def test_code_schedules_exist_before_any_scheduler_starts(store_url: str) -> None:
    def build() -> Hourhand:
        app = Hourhand(store_url, auto_migrate=False)

        @app.cron("*/15 * * * *", name="budget-alerts")
        def budget_alerts(ctx: JobContext) -> None:
            return None

        return app

    app = build()
    try:
        assert app.migrate()  # what `hourhand migrate` does
        assert [s.name for s in app.schedules.list()] == ["budget-alerts"]
    finally:
        app.close()
    fresh = Hourhand(store_url)  # another process on first use: nothing to add or change
    try:
        assert [s.name for s in fresh.schedules.list()] == ["budget-alerts"]
    finally:
        fresh.close()


def test_an_unsupported_database_url_fails_when_the_app_is_made() -> None:
    with pytest.raises(ConfigurationError, match="unsupported scheme 'mysql'"):
        Hourhand("mysql://user@host/db")
    with pytest.raises(ConfigurationError, match="bad SQLite URL"):
        Hourhand("sqlite://relative.db")


def test_wait_returns_the_finished_job_with_its_result(hh: Hourhand, run_worker) -> None:
    gate = threading.Event()

    @hh.job("slow")
    def slow(ctx: JobContext, n: int) -> int:
        gate.wait(10)
        return n * 2

    job_id = hh.enqueue("slow", {"n": 21})
    run_worker()
    waiting = hh.wait(job_id, timeout=0.3)  # times out: the job as it is
    assert waiting.state == JobState.RUNNING
    gate.set()
    done = hh.wait(job_id, timeout=15)
    assert done.state == JobState.COMPLETED and done.result == 42
    assert hh.wait(job_id, timeout=0).result == 42  # finished already: at once


def test_wait_returns_failed_and_cancelled_jobs_too(hh: Hourhand, run_worker) -> None:
    @hh.job("boom", retry=Retry.none())
    def boom(ctx: JobContext) -> None:
        raise ValueError("boom")

    later = hh.enqueue("boom", delay=3600)
    failing = hh.enqueue("boom")
    run_worker()
    assert hh.wait(failing, timeout=15).state == JobState.FAILED
    threading.Timer(0.2, hh.cancel, args=(later,)).start()
    assert hh.wait(later, timeout=15).state == JobState.CANCELLED


def test_many_async_waiters_share_one_thread_and_all_get_their_job(
    hh: Hourhand, run_worker
) -> None:
    @hh.job("double")
    async def double(ctx: JobContext, n: int) -> int:
        return n * 2

    ids = hh.enqueue_many("double", [{"n": n} for n in range(50)])

    async def wait_all() -> list[Any]:
        waits = [asyncio.create_task(hh.wait_async(i, timeout=20)) for i in ids]
        await asyncio.sleep(0.2)  # the waiters look their jobs up and register
        await asyncio.to_thread(run_worker)
        return await asyncio.gather(*waits)

    jobs = asyncio.run(wait_all())
    assert [j.result for j in jobs] == [n * 2 for n in range(50)]
    assert sum(t.name == "hourhand-wait" for t in threading.enumerate()) <= 1


def test_every_attempt_is_logged_once_with_its_outcome_and_never_its_args(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    @hh.job("flaky", max_attempts=2, retry=Retry.fixed([0.01]))
    def flaky(ctx: JobContext, secret: str) -> str:
        if ctx.attempt == 1:
            raise ValueError("first try fails\nsecond line")
        return "ok"

    caplog.set_level(logging.DEBUG, logger="hourhand.running")
    job_id = hh.enqueue("flaky", {"secret": "s3cr3t-token"})
    run_worker()
    assert hh.wait(job_id, timeout=15).state == JobState.COMPLETED
    lines = [r for r in caplog.records if r.name == "hourhand.running"]
    infos = [r.getMessage() for r in lines if r.levelno == logging.INFO]
    assert len(infos) == 2, infos
    assert infos[0].startswith(f"job {job_id} flaky attempt 1/2: failed after ")
    assert infos[0].endswith(", retrying in 10 ms: ValueError: first try fails")
    assert infos[1].startswith(f"job {job_id} flaky attempt 2/2: completed in ")
    debug = [r.getMessage() for r in lines if r.levelno == logging.DEBUG]
    assert any("Traceback" in m and "second line" in m for m in debug)
    assert all("s3cr3t" not in r.getMessage() for r in caplog.records)


def test_a_job_out_of_attempts_is_logged_as_a_warning(
    hh: Hourhand, run_worker, caplog: pytest.LogCaptureFixture
) -> None:
    @hh.job("doomed", max_attempts=1)
    def doomed(ctx: JobContext) -> None:
        raise RuntimeError("no")

    caplog.set_level(logging.INFO, logger="hourhand.running")
    job_id = hh.enqueue("doomed")
    run_worker()
    assert hh.wait(job_id, timeout=15).state == JobState.FAILED
    [line] = [r for r in caplog.records if r.name == "hourhand.running"]
    assert line.levelno == logging.WARNING
    assert line.getMessage().endswith("no attempts left: RuntimeError: no")


def test_cancelling_a_running_job_stops_it_within_about_a_second(hh: Hourhand, run_worker) -> None:
    started = threading.Event()

    @hh.job("forever")
    async def forever(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(3600)

    job_id = hh.enqueue("forever")
    run_worker(lease=30)  # heartbeats every 10 s: the cancel must not wait for one
    assert started.wait(15)
    asked = time.monotonic()
    hh.cancel(job_id)
    assert hh.wait(job_id, timeout=10).state == JobState.CANCELLED
    assert time.monotonic() - asked < 2.0


def test_hooks_registered_through_a_handle_are_for_its_job_type_only(
    hh: Hourhand, run_worker
) -> None:
    seen: list[tuple[str, str]] = []

    @hh.job("a")
    def a(ctx: JobContext) -> None:
        return None

    @hh.job("b")
    def b(ctx: JobContext) -> None:
        return None

    @a.after_job
    def after_a(ctx: JobContext, result: Any) -> None:
        seen.append((ctx.name, str(result.outcome)))

    ids = [a.enqueue(), b.enqueue()]
    run_worker()
    for job_id in ids:
        assert hh.wait(job_id, timeout=15).state == JobState.COMPLETED
    wait_until(lambda: seen, what="the hook")
    assert seen == [("a", "completed")]
    assert hh.hooks.for_job("after_job", "a") and not hh.hooks.for_job("after_job", "b")


def test_first_use_adds_missing_schedules_and_removes_none(store_url: str) -> None:
    full = Hourhand(store_url)

    @full.cron("0 * * * *", name="hourly")
    def hourly(ctx: JobContext) -> None:
        return None

    @full.cron("0 3 * * *", name="nightly")
    def nightly(ctx: JobContext) -> None:
        return None

    partial = Hourhand(store_url)  # a process that imports only one of them, or older code

    @partial.cron("30 * * * *", name="hourly")
    def hourly_old(ctx: JobContext) -> None:
        return None

    try:
        full.migrate()
        assert partial.enqueue("hourly")  # its first use of the database
        crons = {s.name: s.cron for s in partial.schedules.list()}
        assert crons == {"hourly": "0 * * * *", "nightly": "0 3 * * *"}  # unchanged
    finally:
        full.close()
        partial.close()


def test_a_waiter_returns_when_the_app_closes(hh: Hourhand) -> None:
    @hh.job("never")
    def never(ctx: JobContext) -> None:
        return None

    job_id = hh.enqueue("never", delay=3600)
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(hh.wait(job_id, timeout=60)))
    waiter.start()

    def waiting() -> bool:
        waiters = hh._waiters._waiters if hh._waiters is not None else {}
        return any(w.last is not None for ws in waiters.values() for w in ws)

    wait_until(waiting, what="the waiter")
    hh.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert got[0].id == job_id and got[0].state == JobState.SCHEDULED
