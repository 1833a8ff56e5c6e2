"""An app whose failures go to Sentry and whose attempts are OpenTelemetry spans.

    pip install 'hourhand[sentry,otel]' opentelemetry-sdk
    cd examples/hooks
    hourhand --app app:hh enqueue reports:generate --args '{"report_id": "r1"}'
    SENTRY_DSN=https://...  hourhand --app app:hh worker

Without SENTRY_DSN nothing is sent to Sentry; spans are printed to standard output (swap
the ConsoleSpanExporter for an OTLP exporter to send them to a collector).
"""

from __future__ import annotations

import os

import sentry_sdk
from hourhand_otel import JobSpans
from hourhand_sentry import install_sentry_hooks
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from hourhand import Hourhand, JobContext, Retry

sentry_sdk.init(dsn=os.environ.get("SENTRY_DSN"), default_integrations=False)
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))

hh = Hourhand()  # HOURHAND_DATABASE, else sqlite:///hourhand.db
spans = JobSpans(provider).install(hh)
install_sentry_hooks(hh)
tracer = trace.get_tracer("reports", tracer_provider=provider)


@hh.job("reports:generate", max_attempts=3, retry=Retry.fixed([1, 5]))
def generate(ctx: JobContext, report_id: str) -> dict[str, int]:
    with spans.current(ctx), tracer.start_as_current_span("render"):
        if ctx.attempt == 1:
            raise ConnectionError("the warehouse did not answer")  # retried in 1 s
        return {"rows": 10}
