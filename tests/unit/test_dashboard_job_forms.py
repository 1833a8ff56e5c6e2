"""The jobs pages' form reading, without a database: the listing's filters, and the run-now
form built from a job type's JSON schema and the arguments read back from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hourhand.errors import InvalidInput
from hourhand.jobs import JobState
from hourhand.ops import JobTypeInfo
from hourhand.web.dashboard.job_forms import arg_fields, filter_params, query_from, read_args

SCHEMA = {
    "type": "object",
    "properties": {
        "to": {"type": "array", "items": {"type": "string"}},
        "subject": {"type": "string", "description": "a template"},
        "count": {"type": "integer", "default": 3},
        "ratio": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        "loud": {"type": "boolean", "default": False},
        "method": {"enum": ["GET", "POST"], "type": "string", "default": "GET"},
        "extra": {"anyOf": [{"type": "object"}, {"type": "array"}, {"type": "null"}]},
    },
    "required": ["to", "subject"],
}


def info() -> JobTypeInfo:
    params = [{"name": n} for n in ("subject", "to", "count", "ratio", "loud", "method", "extra")]
    return JobTypeInfo("mail", "default", 0, 5, None, None, None, "", params, schema=SCHEMA)


def test_fields_follow_the_parameters_with_kinds_defaults_and_required() -> None:
    fields = {f.name: f for f in arg_fields(info())}
    assert list(fields) == ["subject", "to", "count", "ratio", "loud", "method", "extra"]
    kinds = {name: f.kind for name, f in fields.items()}
    assert kinds == {
        "subject": "string",
        "to": "json",
        "count": "integer",
        "ratio": "number",  # X | None is X, optional
        "loud": "boolean",
        "method": "enum",
        "extra": "json",  # two branches: JSON text
    }
    assert fields["to"].required and fields["subject"].required and not fields["count"].required
    assert fields["count"].default_text == "3" and fields["method"].default_text == "GET"
    assert fields["ratio"].has_default and fields["ratio"].default_text is None
    assert fields["subject"].description == "a template"


def test_read_args_converts_each_kind_and_leaves_empty_fields_to_their_default() -> None:
    form = {
        "arg.subject": " Hi ",
        "arg.to": '["a@example.com"]',
        "arg.count": "",
        "arg.ratio": "0.5",
        "arg.loud": "true",
        "arg.method": "POST",
        "arg.extra": '{"k": [1, 2]}',
    }
    args, fields = read_args(arg_fields(info()), form)
    assert args == {
        "subject": " Hi ",
        "to": ["a@example.com"],
        "ratio": 0.5,
        "loud": True,
        "method": "POST",
        "extra": {"k": [1, 2]},
    }
    assert not any(f.error for f in fields)


def test_read_args_marks_each_bad_value_and_keeps_what_was_typed() -> None:
    form = {"arg.to": "[oops", "arg.count": "2.5", "arg.ratio": "nan", "arg.method": "PUT"}
    args, fields = read_args(arg_fields(info()), form)
    errors = {f.name: f.error for f in fields if f.error}
    assert errors["subject"] == "required"
    assert errors["to"].startswith("not JSON")
    assert errors["count"] == "a whole number, e.g. 42"
    assert errors["ratio"] == "a finite number"
    assert errors["method"] == "one of GET, POST"
    assert {f.name: f.value for f in fields}["to"] == "[oops"
    assert args == {}


def test_filters_read_from_a_query_string_and_back() -> None:
    params = {
        "state": "failed",
        "queue": "mail",
        "type": "",
        "schedule": "12",
        "created_after": "2025-01-31T13:45",
        "created_before": "2025-02-01T00:00:00+01:00",
        "cursor": "99",
    }
    query = query_from(params, 50)
    assert query.state == JobState.FAILED and query.type is None and query.schedule_id == 12
    assert query.created_after == datetime(2025, 1, 31, 13, 45, tzinfo=UTC)  # UTC if naive
    assert query.created_before == datetime(2025, 1, 31, 23, 0, tzinfo=UTC)
    assert query.cursor == "99"
    assert filter_params(query) == {
        "state": "failed",
        "queue": "mail",
        "schedule": "12",
        "created_after": "2025-01-31T13:45:00",
        "created_before": "2025-01-31T23:00:00",
    }
    for bad in (
        {"state": "lost"},
        {"schedule": "x"},
        {"created_after": "tuesday"},
        {"cursor": "a"},
    ):
        with pytest.raises(InvalidInput):
            query_from(bad, 50)
