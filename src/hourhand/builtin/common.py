"""What the built-in kinds share: secret references in job arguments, the errors their jobs
fail with, and results made safe to store as JSON."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from hourhand import checks
from hourhand.builtin.config import SECRET_NAME, secret_env
from hourhand.errors import InvalidArguments

if TYPE_CHECKING:
    from hourhand.app import Hourhand

MAX_DEPTH = 100  # nesting of a value made JSON-safe; deeper is written as text


@with_config(ConfigDict(extra="forbid"))
class SecretArg(TypedDict):
    """``{"secret": "NAME"}`` in a job's arguments: the value is looked up when the job
    runs (``HOURHAND_SECRET_NAME``, else ``[secrets] NAME``), never stored with the job."""

    secret: Annotated[str, Field(pattern=SECRET_NAME, max_length=200)]


class KindFailed(Exception):
    """A built-in kind's job could not do its work: the attempt fails with this message
    and the job's retry policy applies."""


class SecretNotSet(KindFailed):
    """A secret a job refers to is not set where it runs."""


def invalid(kind: str, message: str) -> InvalidArguments:
    return InvalidArguments(f"job {kind!r}: {message}")


def secret_problem(app: Hourhand, name: str) -> str | None:
    """Why secret ``name`` cannot be resolved in this process, or None."""
    if app.builtin.secret(name) is not None:
        return None
    return f"secret {name!r} is not set (set {secret_env(name)} or add {name} to [secrets])"


def resolve_secret(app: Hourhand, name: str) -> str:
    """A secret's value; SecretNotSet (naming it, never a value) if it is not set here."""
    value = app.builtin.secret(name)
    if value is None:
        problem = secret_problem(app, name)
        raise SecretNotSet(f"{problem} in this worker")
    return value


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON both databases store: text without NUL or lone surrogates,
    finite numbers; times as ISO-8601, decimals as text, bytes as ``\\x`` and hex, a
    duration as seconds, anything else as its text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return checks.safe_text(value)
    if depth > MAX_DEPTH:
        return checks.safe_text(str(value))
    if isinstance(value, dict):
        return {checks.safe_text(str(k)): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    return checks.safe_text(str(value))
