"""Registering hooks (no database): the decorator forms, scoping and one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hourhand import AttemptResult, Hourhand, InvalidInput, JobContext, JobState, Outcome
from hourhand.errors import UnknownJobType


@pytest.fixture
def app(tmp_path: Path) -> Hourhand:
    return Hourhand(f"sqlite:///{tmp_path}/never-opened.db")


def names(app: Hourhand, point: str, job: str) -> list[str]:
    return [h.fn.__name__ for h in app.hooks.for_job(point, job)]  # type: ignore[arg-type]


def test_every_form_registers_and_returns_the_function(app: Hourhand) -> None:
    @app.before_job
    def plain(ctx: JobContext) -> None: ...

    @app.before_job(job="reports:generate")
    async def scoped(ctx: JobContext) -> None: ...

    def called(ctx: JobContext, result: AttemptResult) -> None: ...

    assert app.on_failure(called, job="reports:generate") is called
    assert app.on_dead(called) is called
    assert app.after_job()(called) is called  # @hh.after_job() with no job: every type

    assert callable(plain) and callable(scoped)
    assert names(app, "before_job", "reports:generate") == ["plain", "scoped"]
    assert names(app, "before_job", "emails:send") == ["plain"]
    assert names(app, "on_failure", "reports:generate") == ["called"]
    assert names(app, "on_failure", "emails:send") == []
    assert names(app, "on_dead", "x") == names(app, "after_job", "x") == ["called"]
    assert len(app.hooks) == 5
    [async_hook] = [h for h in app.hooks.for_job("before_job", "reports:generate") if h.is_async]
    assert async_hook.name == f"{__name__}.{scoped.__qualname__}"


def test_app_hooks_come_before_type_hooks_whatever_the_registration_order(
    app: Hourhand,
) -> None:
    def typed(ctx: JobContext, result: AttemptResult) -> None: ...

    def first(ctx: JobContext, result: AttemptResult) -> None: ...

    def second(ctx: JobContext, result: AttemptResult) -> None: ...

    app.after_job(typed, job="t")
    app.after_job(first)
    app.after_job(second)
    assert names(app, "after_job", "t") == ["first", "second", "typed"]


def test_bad_hooks_are_refused_with_one_line(app: Hourhand) -> None:
    def takes_nothing() -> None: ...

    def takes_ctx(ctx: JobContext) -> None: ...

    with pytest.raises(InvalidInput, match=r"^on_failure: expected a function, got str$"):
        app.on_failure("not a function")  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match=r"^before_job hook .*takes_nothing must accept \(ctx\)"):
        app.before_job(takes_nothing)
    with pytest.raises(InvalidInput, match=r"must accept \(ctx, result\); its signature is \(ctx"):
        app.on_dead(takes_ctx)
    with pytest.raises(InvalidInput, match=r"^after_job: job must be a job type's name, got int"):
        app.after_job(takes_ctx, job=3)  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match="after_job: job"):
        app.after_job(takes_ctx, job="")  # type: ignore[call-overload]
    assert len(app.hooks) == 0
    # a catch-all signature is fine
    app.before_job(lambda *args: None)
    app.on_failure(lambda ctx, result, extra=None: None)


def test_a_hook_for_an_unregistered_job_type_stops_the_worker_from_starting(
    app: Hourhand,
) -> None:
    @app.job("reports:generate")
    def generate(ctx: JobContext) -> None: ...

    @app.on_failure(job="reports:genrate")
    def report(ctx: JobContext, result: AttemptResult) -> None: ...

    with pytest.raises(UnknownJobType) as raised:
        app.worker()
    assert str(raised.value) == (
        f"hook {__name__}.{report.__qualname__} (on_failure) is for job type "
        "'reports:genrate', which is not registered "
        "(registered: hourhand.notify, hourhand.retention, reports:generate)"
    )


def test_attempt_result_answers_the_usual_questions() -> None:
    retry = AttemptResult(Outcome.FAILED, JobState.RETRYING, error="E: x", retry_in=5.0)
    assert retry.failed and retry.will_retry and not retry.dead
    dead = AttemptResult(Outcome.TIMEOUT, JobState.FAILED)
    assert dead.failed and dead.dead and not dead.will_retry
    lost_here = AttemptResult(Outcome.LOST, None)
    assert lost_here.failed and not lost_here.dead and not lost_here.will_retry
    for outcome, state in [
        (Outcome.COMPLETED, JobState.COMPLETED),
        (Outcome.CANCELLED, JobState.CANCELLED),
        (Outcome.INTERRUPTED, JobState.QUEUED),
    ]:
        result = AttemptResult(outcome, state)
        assert not result.failed and not result.dead and not result.will_retry
    with pytest.raises(AttributeError):
        retry.state = JobState.FAILED  # type: ignore[misc]


def test_the_code_in_docs_hooks_md_is_the_code_of_the_examples() -> None:
    """Each code block of docs/hooks.md that names an example file is a verbatim part of it."""
    repo = Path(__file__).resolve().parents[2]
    text = (repo / "docs" / "hooks.md").read_text()
    blocks = re.findall(r"```python\n# (examples/hooks/\S+)\n(.*?)```", text, re.DOTALL)
    assert {path for path, _ in blocks} == {
        "examples/hooks/hourhand_sentry.py",
        "examples/hooks/hourhand_otel.py",
    }
    for path, code in blocks:
        assert code in (repo / path).read_text(), f"docs/hooks.md differs from {path}"
