"""The schedule forms of the dashboard, as data: the fields of a schedule's definition
(cron, zone, arguments, policies, job options) read from a submitted form, a form of a job
type's arguments built from its JSON schema, and the before/after diff of an edit.

Everything here turns form text into values and back; nothing is saved. A bad value is
kept as typed and reported beside its field (``FormErrors``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hourhand.schedule_model import (
    DEFAULT_CATCHUP_WINDOW,
    DEFAULT_MISFIRE,
    DEFAULT_MISFIRE_CAP,
    DEFAULT_OVERLAP,
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    Schedule,
)

MAX_FIELD = 100_000  # characters of one submitted field (args JSON included)
ARG_PREFIX = "arg."  # form names of a job type's arguments: arg.NAME
# the definition an edit may change, in the order the form and the diff show them
EDIT_FIELDS = (
    "cron",
    "tz",
    "args",
    "misfire",
    "misfire_cap",
    "catchup_window",
    "overlap",
    "jitter",
    "queue",
    "priority",
    "max_attempts",
    "timeout",
)
LABELS = {
    "name": "Name",
    "job": "Job type",
    "cron": "Cron expression",
    "tz": "Time zone",
    "args": "Arguments (JSON)",
    "misfire": "When fire times were missed",
    "misfire_cap": "Catch-up runs at most",
    "catchup_window": "Catch up fire times this recent (seconds)",
    "overlap": "While the previous run waits or runs",
    "jitter": "Jitter (seconds)",
    "queue": "Queue",
    "priority": "Priority",
    "max_attempts": "Attempts at most",
    "timeout": "Timeout (seconds)",
    "enabled": "Enabled",
}
CHOICES = {"misfire": MISFIRE_POLICIES, "overlap": OVERLAP_POLICIES}
CHOICE_WORDS = {
    "skip": "skip them",
    "once": "run once",
    "all": "run each (up to the cap, within the window)",
    "allow": "start anyway",
    "queue": "queue one run behind it",
}
OVERLAP_WORDS = {"skip": "skip this run"}
INTEGERS = ("misfire_cap", "priority", "max_attempts")
SECONDS = ("catchup_window", "jitter", "timeout")
OPTIONAL = ("queue", "priority", "max_attempts", "timeout")  # empty: the job type's
DEFAULTS: dict[str, Any] = {
    "tz": "UTC",
    "args": {},
    "misfire": DEFAULT_MISFIRE,
    "misfire_cap": DEFAULT_MISFIRE_CAP,
    "catchup_window": DEFAULT_CATCHUP_WINDOW,
    "overlap": DEFAULT_OVERLAP,
    "jitter": 0.0,
}


class FormErrors(Exception):
    """Some fields of a form are not valid: ``errors`` maps a field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def text_of(value: Any) -> str:
    """How a definition's value is written in its form field."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def definition_texts(schedule: Schedule | None) -> dict[str, str]:
    """The edit form's fields of a schedule (None: a new one's defaults)."""
    values = {k: getattr(schedule, k) for k in EDIT_FIELDS} if schedule else dict(DEFAULTS)
    return {k: text_of(values.get(k)) for k in EDIT_FIELDS}


def submitted(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The fields ``names`` of a submitted form as text (missing: empty)."""
    out = {}
    for name in names:
        value = form.get(name)
        out[name] = value if isinstance(value, str) else ""
    return out


def parse_definition(texts: Mapping[str, str]) -> dict[str, Any]:
    """The definition's values from its form fields (FormErrors names every bad one).
    The values are only parsed here; ops checks them as it checks any caller's."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in EDIT_FIELDS:
        text = texts.get(name, "").strip()
        try:
            values[name] = _parse_field(name, text)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise FormErrors(errors)
    return values


def _parse_field(name: str, text: str) -> Any:
    if len(text) > MAX_FIELD:
        raise ValueError(f"at most {MAX_FIELD:,} characters")
    if text == "":
        if name in OPTIONAL:
            return None
        if name == "args":
            return {}
        raise ValueError("needs a value")
    if name == "args":
        try:
            args = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(args, dict):
            raise ValueError('a JSON object of arguments, e.g. {"report_id": "r1"}')
        return args
    if name in CHOICES:
        if text not in CHOICES[name]:
            raise ValueError(f"one of {', '.join(CHOICES[name])}")
        return text
    if name in INTEGERS:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"a whole number, not {text!r}") from None
    if name in SECONDS:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"a number of seconds, not {text!r}") from None
        if not math.isfinite(number):
            raise ValueError("a finite number of seconds")
        return number
    return text


def changes_of(schedule: Schedule, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that differ from the schedule's definition."""
    return {k: v for k, v in values.items() if getattr(schedule, k) != v}


@dataclass(frozen=True)
class DiffRow:
    field: str
    label: str
    before: str
    after: str


def diff(before: Schedule, after: Schedule, fields: tuple[str, ...] = EDIT_FIELDS) -> list[DiffRow]:
    """The fields whose values differ, as text for a before/after table."""
    rows = []
    for name in fields:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            rows.append(DiffRow(name, LABELS.get(name, name), text_of(old), text_of(new)))
    return rows


# -- a job type's arguments, from its JSON schema ------------------------------------------


@dataclass(frozen=True)
class ArgField:
    """One argument of a job type as a form field."""

    name: str  # the argument's name (the form's field is ARG_PREFIX + name)
    widget: str  # text | integer | number | boolean | choice | json
    required: bool
    choices: tuple[str, ...] = ()  # choice: the values
    default: str = ""  # the default, as text (a placeholder)
    description: str = ""
    form_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "form_name", ARG_PREFIX + self.name)


def arg_fields(schema: Mapping[str, Any]) -> list[ArgField]:
    """The fields of a job type's arguments: a simple value gets an input of its kind,
    anything else (lists, objects, unions) a JSON text area."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out = []
    for name, prop in properties.items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        simple = branches[0] if len(branches) == 1 else {}
        widget = "json"
        choices: tuple[str, ...] = ()
        if "enum" in simple and all(isinstance(c, str) for c in simple["enum"]):
            widget, choices = "choice", tuple(simple["enum"])
        elif simple.get("type") == "string":
            widget = "text"
        elif simple.get("type") in ("integer", "number", "boolean"):
            widget = simple["type"]
        description = prop.get("description") or simple.get("description") or ""
        default = prop.get("default", simple.get("default"))
        shown = "" if default is None else text_of(default)
        if widget in ("json",) and default is not None:
            shown = json.dumps(default)
        out.append(ArgField(name, widget, name in required, choices, shown, str(description)))
    return out


def parse_args(fields: list[ArgField], form: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a form of ``fields`` gives; an empty optional field is left out (the
    job type's default applies). FormErrors names every bad field."""
    args: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in fields:
        raw = form.get(spec.form_name)
        text = raw.strip() if isinstance(raw, str) else ""
        if text == "":
            if spec.required:
                errors[spec.form_name] = "needs a value"
            continue
        try:
            args[spec.name] = _parse_arg(spec, text)
        except ValueError as exc:
            errors[spec.form_name] = str(exc)
    if errors:
        raise FormErrors(errors)
    return args


def _parse_arg(spec: ArgField, text: str) -> Any:
    if len(text) > MAX_FIELD:
        raise ValueError(f"at most {MAX_FIELD:,} characters")
    if spec.widget == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"a whole number, not {text!r}") from None
    if spec.widget == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"a number, not {text!r}") from None
        if not math.isfinite(number):
            raise ValueError("a finite number")
        return number
    if spec.widget == "boolean":
        if text not in ("true", "false"):
            raise ValueError("true or false")
        return text == "true"
    if spec.widget == "choice" and text not in spec.choices:
        raise ValueError(f"one of {', '.join(spec.choices)}")
    if spec.widget == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
    return text
