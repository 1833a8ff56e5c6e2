"""Property tests over /openapi.json (schemathesis): on each store, every operation with
generated valid and invalid input answers no 500, and every answer matches its schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import WorkerThread
from tests.web.conftest import Api

EXAMPLES = 12  # per operation and mode: the whole run stays well under a minute per store
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def run_operation(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        # an operation without parameters or body has no invalid input to make
        assert mode == GenerationMode.NEGATIVE, operation.path


def test_no_server_errors_and_every_answer_matches_its_schema(
    api: Api, app_workers: Callable[..., WorkerThread]
) -> None:
    # a live worker: /health/jobs answers 200 (without one it answers 503, by design)
    app_workers(api.hh, poll_interval=0.2)
    # a few rows to find, act on and page through
    for n in range(3):
        api.call("post", "/v1/jobs", json={"type": "add", "args": {"a": n, "b": 1}})
    api.call(
        "post",
        "/v1/schedules",
        json={"name": "s", "job": "add", "cron": "@daily", "args": {"a": 1, "b": 1}},
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for who in ("admin", "org_a"):
                run_operation(operation, mode, api.auth(who))
