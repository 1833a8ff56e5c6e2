"""The Sentry and OpenTelemetry hooks of examples/hooks (docs/hooks.md), with the real
libraries: sentry-sdk sending through a transport that keeps events in memory, and the
OpenTelemetry SDK exporting to its InMemorySpanExporter; a real worker on both stores."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from hourhand import Hourhand, JobContext, JobState, Retry
from tests.conftest import REPO, subprocess_env, wait_until

EXAMPLES = REPO / "examples" / "hooks"


@pytest.fixture(autouse=True)
def examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))


class MemoryTransport(Transport):
    """A Sentry transport that keeps what the SDK sends, instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()

    def capture_envelope(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for env in self.envelopes if (e := env.get_event()) is not None]


@pytest.fixture
def sentry() -> Iterator[MemoryTransport]:
    transport = MemoryTransport()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",  # never contacted: the transport keeps events
        transport=transport,
        default_integrations=False,
    )
    try:
        yield transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def test_sentry_captures_each_failed_attempt_with_job_tags(
    hh: Hourhand, run_worker, sentry: MemoryTransport
) -> None:
    from hourhand_sentry import install_sentry_hooks

    @hh.job("reports:generate", queue="reports", max_attempts=2, retry=Retry.fixed([0.05]))
    def generate(ctx: JobContext, report_id: str) -> str:
        if ctx.attempt == 1:
            raise ConnectionError("the warehouse did not answer")
        return "ok"

    @hh.job("slow", timeout=0.2, max_attempts=1)
    async def slow(ctx: JobContext) -> None:
        await asyncio.sleep(30)

    install_sentry_hooks(hh)
    report_id = hh.enqueue("reports:generate", {"report_id": "r1"})
    slow_id = hh.enqueue("slow")
    run_worker(poll_interval=0.05, queues=["default", "reports"])
    wait_until(lambda: hh.get_job(report_id).state == JobState.COMPLETED)
    wait_until(lambda: len(sentry.events()) == 2)
    events = {e["tags"]["hourhand.job_type"]: e for e in sentry.events()}

    failed = events["reports:generate"]
    assert failed["tags"] == {
        "hourhand.job_type": "reports:generate",
        "hourhand.job_id": str(report_id),
        "hourhand.attempt": "1",
        "hourhand.queue": "reports",
        "hourhand.outcome": "failed",
        "hourhand.will_retry": "yes",
        "hourhand.dead": "no",
    }
    [exception] = failed["exception"]["values"]
    assert (exception["type"], exception["value"]) == (
        "ConnectionError",
        "the warehouse did not answer",
    )
    assert any(f["function"] == "generate" for f in exception["stacktrace"]["frames"])
    context = failed["contexts"]["hourhand"]
    assert context["state"] == "retrying" and context["next_run_at"]

    timed_out = events["slow"]
    assert timed_out["tags"]["hourhand.outcome"] == "timeout"
    assert timed_out["tags"]["hourhand.dead"] == "yes"
    assert timed_out["tags"]["hourhand.job_id"] == str(slow_id)
    assert timed_out["level"] == "error" and "exception" not in timed_out
    assert timed_out["message"].startswith("hourhand job 'slow' timeout: TimeoutError:")
    assert timed_out["fingerprint"] == ["hourhand", "slow", "timeout"]


def test_sentry_dead_only_reports_jobs_that_run_out_of_attempts(
    hh: Hourhand, run_worker, sentry: MemoryTransport
) -> None:
    from hourhand_sentry import install_sentry_hooks

    @hh.job("doomed", max_attempts=3, retry=Retry.fixed([0.05]))
    def doomed(ctx: JobContext) -> None:
        raise ValueError(f"attempt {ctx.attempt}")

    install_sentry_hooks(hh, dead_only=True)
    job_id = hh.enqueue("doomed")
    run_worker(poll_interval=0.05)
    wait_until(lambda: sentry.events())
    wait_until(lambda: hh.get_job(job_id).state == JobState.FAILED)
    [event] = sentry.events()
    assert event["tags"]["hourhand.attempt"] == "3" and event["tags"]["hourhand.dead"] == "yes"
    assert event["exception"]["values"][0]["value"] == "attempt 3"


def test_opentelemetry_span_per_attempt_with_outcome_status_and_children(
    hh: Hourhand, run_worker, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    from hourhand_otel import JobSpans

    spans = JobSpans(provider).install(hh)
    tracer = provider.get_tracer("test")

    @hh.job("reports:generate", max_attempts=2, retry=Retry.fixed([0.05]))
    async def generate(ctx: JobContext, report_id: str) -> dict[str, int]:
        with spans.current(ctx), tracer.start_as_current_span("render"):
            if ctx.attempt == 1:
                raise ConnectionError("the warehouse did not answer")
        return {"rows": 10}

    job_id = hh.enqueue("reports:generate", {"report_id": "r1"})
    run_worker(poll_interval=0.05)
    wait_until(lambda: len(exporter.get_finished_spans()) == 4)
    finished: list[ReadableSpan] = list(exporter.get_finished_spans())
    attempts = sorted(
        (s for s in finished if s.name == "hourhand.job reports:generate"),
        key=lambda s: s.attributes["hourhand.job.attempt"],  # type: ignore[index]
    )
    renders = [s for s in finished if s.name == "render"]
    assert len(attempts) == 2 and len(renders) == 2

    first, second = attempts
    assert dict(first.attributes or {}) == {
        "hourhand.job.type": "reports:generate",
        "hourhand.job.id": job_id,
        "hourhand.job.attempt": 1,
        "hourhand.job.max_attempts": 2,
        "hourhand.job.queue": "default",
        "hourhand.job.outcome": "failed",
        "hourhand.job.state": "retrying",
        "hourhand.job.will_retry": True,
    }
    assert first.status.status_code == StatusCode.ERROR
    assert first.status.description == "ConnectionError: the warehouse did not answer"
    [exception_event] = first.events  # recorded once, by the after_job hook
    assert exception_event.name == "exception"
    assert (exception_event.attributes or {})["exception.type"] == "ConnectionError"

    assert second.status.status_code == StatusCode.OK
    assert (second.attributes or {})["hourhand.job.outcome"] == "completed"
    assert not second.events
    # each attempt is a trace of its own; the handler's spans are the attempt's children
    assert first.context.trace_id != second.context.trace_id  # type: ignore[union-attr]
    assert sorted(r.parent.span_id for r in renders) == sorted(  # type: ignore[union-attr]
        a.context.span_id  # type: ignore[union-attr]
        for a in attempts
    )
    assert hh.get_job(job_id).state == JobState.COMPLETED


def test_the_example_app_runs_in_a_worker_process(store_url: str, tmp_path: Path) -> None:
    """examples/hooks/app.py as its README says: enqueue with the CLI, run a worker; its
    spans (printed by the console exporter) show the failed attempt and the retry."""
    env = subprocess_env(HOURHAND_DATABASE=store_url)
    env.pop("SENTRY_DSN", None)
    cli = [sys.executable, "-m", "hourhand", "--app", "app:hh"]
    enqueued = subprocess.run(
        [*cli, "enqueue", "reports:generate", "--args", '{"report_id": "r1"}', "--json"],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    job_id = json.loads(enqueued.stdout)["id"]
    out = tmp_path / "worker.out"
    with open(out, "wb") as log:
        worker = subprocess.Popen(
            [*cli, "worker", "--poll-interval", "0.2"],
            cwd=EXAMPLES,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    hh = Hourhand(store_url)
    try:
        wait_until(lambda: hh.get_job(job_id).state == JobState.COMPLETED, timeout=30)
        wait_until(lambda: out.read_text().count('"name": "hourhand.job reports:generate"') == 2)
    finally:
        hh.close()
        os.kill(worker.pid, signal.SIGTERM)
        worker.wait(30)
    assert worker.returncode == 0, out.read_text()
    spans = _console_spans(out.read_text())
    statuses = [
        s["status"]["status_code"] for s in spans if s["name"] == "hourhand.job reports:generate"
    ]
    assert statuses == ["ERROR", "OK"]
    assert [s["name"] for s in spans].count("render") == 2


def _console_spans(text: str) -> list[dict[str, Any]]:
    """The JSON objects the ConsoleSpanExporter printed, among the worker's log lines."""
    spans, decoder, at = [], json.JSONDecoder(), 0
    while (start := text.find("{\n", at)) != -1:
        value, at = decoder.raw_decode(text, start)
        spans.append(value)
    return spans
