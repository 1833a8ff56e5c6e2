"""What the jobs pages read from forms and query strings: the listing's filters (a
:class:`JobQuery`), and the "run now" form built from a job type's JSON schema (one field per
parameter) and the arguments read back from it. Plain data, no routes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hourhand.errors import InvalidInput
from hourhand.jobs import JobState
from hourhand.ops import JobQuery, JobTypeInfo

FILTER_KEYS = ("state", "queue", "type", "org", "schedule", "created_after", "created_before")
ARG_PREFIX = "arg."  # form field names of the arguments: arg.NAME
KINDS = ("string", "number", "integer", "boolean", "enum", "json")
MAX_FIELD = 100_000  # characters a form field may hold


# -- the listing's filters ----------------------------------------------------------------
def query_from(params: Mapping[str, str], limit: int) -> JobQuery:
    """The listing's query from a query string or a form (empty fields are no filter);
    InvalidInput names a bad value."""
    values = {key: (params.get(key) or "").strip() for key in (*FILTER_KEYS, "cursor")}
    schedule = values["schedule"]
    if schedule and not schedule.isdigit():
        raise InvalidInput(f"schedule must be a schedule's id (a number), not {schedule!r}")
    state = values["state"]
    if state and state not in {s.value for s in JobState}:
        raise InvalidInput(f"unknown state {state!r}")
    return JobQuery(
        state=JobState(state) if state else None,
        queue=values["queue"] or None,
        type=values["type"] or None,
        org_id=values["org"] or None,
        schedule_id=int(schedule) if schedule else None,
        created_after=parse_time("created after", values["created_after"]),
        created_before=parse_time("created before", values["created_before"]),
        limit=limit,
        cursor=values["cursor"] or None,
    ).checked()


def filter_params(query: JobQuery) -> dict[str, str]:
    """The query string of a query's filters (without its cursor): links keep them."""
    values = {
        "state": query.state,
        "queue": query.queue,
        "type": query.type,
        "org": query.org_id,
        "schedule": query.schedule_id,
        "created_after": query.created_after and time_field(query.created_after),
        "created_before": query.created_before and time_field(query.created_before),
    }
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def parse_time(what: str, text: str) -> datetime | None:
    """A time typed in a filter: ISO 8601; without an offset it is UTC (the form's
    ``datetime-local`` inputs send none)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
        return when.replace(tzinfo=UTC) if when.utcoffset() is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or out of range in UTC
        raise InvalidInput(f"{what}: {text!r} is not a time like 2025-01-31T13:45") from None


def time_field(when: datetime) -> str:
    """A UTC time as a ``datetime-local`` input shows it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- the run-now form ---------------------------------------------------------------------
@dataclass(frozen=True)
class ArgField:
    """One parameter of a job type as a form field."""

    name: str
    kind: str  # one of KINDS; "json": arrays, objects and anything else, as JSON text
    required: bool
    has_default: bool = False
    default: Any = None
    description: str | None = None
    choices: list[Any] = field(default_factory=list)  # an enum's values
    value: str = ""  # what the field holds (a re-rendered form keeps what was typed)
    error: str | None = None

    @property
    def input_name(self) -> str:
        return ARG_PREFIX + self.name

    @property
    def default_text(self) -> str | None:
        """The default as the field would take it (None: no default, or null)."""
        if not self.has_default or self.default is None:
            return None
        if self.kind in ("string", "enum") and isinstance(self.default, str):
            return self.default
        return json.dumps(self.default, ensure_ascii=False)

    @property
    def choice_texts(self) -> list[str]:
        return [c if isinstance(c, str) else json.dumps(c) for c in self.choices]


def arg_fields(info: JobTypeInfo) -> list[ArgField]:
    """The form fields of a job type's arguments, in its parameters' order."""
    schema = info.schema
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    order = [p["name"] for p in info.params if p["name"] in props]
    order += [name for name in props if name not in order]
    return [_field(name, props[name], name in required) for name in order]


def _field(name: str, prop: dict[str, Any], required: bool) -> ArgField:
    shape = _shape(prop)
    kind = "json"
    if "enum" in shape:
        kind = "enum"
    elif shape.get("type") in KINDS:
        kind = shape["type"]
    description = prop.get("description") or shape.get("description")
    return ArgField(
        name=name,
        kind=kind,
        required=required,
        has_default="default" in prop,
        default=prop.get("default"),
        description=description if isinstance(description, str) else None,
        choices=list(shape.get("enum", [])),
    )


def _shape(prop: dict[str, Any]) -> dict[str, Any]:
    """The property's one non-null branch (``X | None``), else the property itself."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    if "anyOf" in prop and len(branches) == 1:
        branch: dict[str, Any] = branches[0]
        return branch
    return {} if "anyOf" in prop else prop


def read_args(
    fields: list[ArgField], form: Mapping[str, str]
) -> tuple[dict[str, Any], list[ArgField]]:
    """The arguments a submitted form gives, and the fields holding what was typed with
    an error on each value that does not read as its kind. An empty field is left out (the
    parameter's default applies); an empty required one is an error."""
    args: dict[str, Any] = {}
    out: list[ArgField] = []
    for f in fields:
        raw = form.get(f.input_name, "")
        error = None
        if len(raw) > MAX_FIELD:
            error = f"at most {MAX_FIELD:,} characters"
        elif raw.strip() == "":
            if f.required:
                error = "required"
        else:
            try:
                args[f.name] = _read(f, raw)
            except ValueError as exc:
                error = str(exc)
        out.append(replace(f, value=raw, error=error))
    return args, out


def _read(f: ArgField, raw: str) -> Any:
    text = raw.strip()
    if f.kind == "string":
        return raw
    if f.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("a whole number, e.g. 42") from None
    if f.kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("a number, e.g. 2.5") from None
        if not math.isfinite(number):
            raise ValueError("a finite number")
        return int(number) if number.is_integer() and "." not in text else number
    if f.kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError("true or false")
        return text == "true"
    if f.kind == "enum":
        for choice, shown in zip(f.choices, f.choice_texts, strict=True):
            if text == shown:
                return choice
        raise ValueError("one of " + ", ".join(f.choice_texts))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos + 1})") from None


def read_options(form: Mapping[str, str]) -> dict[str, Any]:
    """The run-now form's job options (queue, priority, delay, org): empty ones are left
    to the job type."""
    options: dict[str, Any] = {}
    queue = form.get("queue", "").strip()
    if queue:
        options["queue"] = queue
    for key, what, kind in (("priority", "priority", int), ("delay", "delay", float)):
        text = form.get(key, "").strip()
        if text:
            try:
                options[key] = kind(text)
            except ValueError:
                raise InvalidInput(f"{what} must be a number, not {text!r}") from None
    org = form.get("org", "").strip()
    if org:
        options["org_id"] = org
    return options
