"""An OpenTelemetry span per hourhand attempt: started by a before_job hook, ended by an
after_job hook with the outcome, status ERROR when the attempt failed. Copy this file into
your project (it needs ``pip install 'hourhand[otel]'``, and an OpenTelemetry SDK set up
with an exporter, as usual)::

    from hourhand_otel import JobSpans

    spans = JobSpans().install(hh)   # every job type (job="...": one type)

    @hh.job("reports:generate")
    def generate(ctx: JobContext, report_id: str) -> None:
        with spans.current(ctx):                          # the handler's own spans
            with tracer.start_as_current_span("render"):  # become the attempt's children
                ...

The span runs from just before the handler to the moment the attempt's end is recorded.
Attempts of a worker that died are not ended by it (the process is gone); the worker that
rescues them reports them to on_failure hooks, not here.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from hourhand import AttemptResult, Hourhand, JobContext


class JobSpans:
    """The spans of the attempts running in this process, keyed by (job id, attempt)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("hourhand", tracer_provider=tracer_provider)
        self._spans: dict[tuple[int, int], Span] = {}
        self._lock = threading.Lock()  # sync hooks run on several threads

    def install(self, hh: Hourhand, *, job: str | None = None) -> JobSpans:
        hh.before_job(self.start, job=job)
        hh.after_job(self.end, job=job)
        return self

    def span_of(self, ctx: JobContext) -> Span:
        """The attempt's span (an invalid, no-op span if there is none)."""
        with self._lock:
            return self._spans.get((ctx.job_id, ctx.attempt), trace.INVALID_SPAN)

    def current(self, ctx: JobContext) -> AbstractContextManager[Span]:
        """Make the attempt's span the current one (in a handler, sync or async), so that
        spans started inside are its children. What the handler raises is recorded on the
        span by the after_job hook, not here."""
        return trace.use_span(
            self.span_of(ctx), record_exception=False, set_status_on_exception=False
        )

    def start(self, ctx: JobContext) -> None:
        """before_job: start the attempt's span."""
        span = self.tracer.start_span(
            f"hourhand.job {ctx.name}",
            kind=SpanKind.CONSUMER,
            attributes={
                "hourhand.job.type": ctx.name,
                "hourhand.job.id": ctx.job_id,
                "hourhand.job.attempt": ctx.attempt,
                "hourhand.job.max_attempts": ctx.job.max_attempts,
                "hourhand.job.queue": ctx.job.queue,
            },
        )
        with self._lock:
            self._spans[(ctx.job_id, ctx.attempt)] = span

    def end(self, ctx: JobContext, result: AttemptResult) -> None:
        """after_job: record the outcome and end the span."""
        with self._lock:
            span = self._spans.pop((ctx.job_id, ctx.attempt), None)
        if span is None:
            return
        span.set_attribute("hourhand.job.outcome", str(result.outcome))
        if result.state is not None:
            span.set_attribute("hourhand.job.state", str(result.state))
        span.set_attribute("hourhand.job.will_retry", result.will_retry)
        if result.failed:
            if result.exception is not None:
                span.record_exception(result.exception)
            span.set_status(Status(StatusCode.ERROR, result.error))
        elif result.outcome == "completed":
            span.set_status(Status(StatusCode.OK))
        span.end()
