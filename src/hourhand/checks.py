"""Checks on what reaches the database: numbers finite and in range, text it can store.

Every number a caller passes (a delay, a timeout, a retry backoff, a lease, a limit) is
checked here, so that NaN, infinity or 1e300 is refused with one line naming the input
instead of being stored as garbage or failing deep in a driver. Text that PostgreSQL
refuses (a NUL character, a lone UTF-16 surrogate) is refused in keys and JSON, and escaped
in free text such as error messages and tracebacks, so that recording a failure never fails.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hourhand.errors import InvalidInput

MAX_DELAY = 10 * 365 * 86400.0  # seconds (ten years): the longest delay, backoff or timeout
MAX_INT = 2**31 - 1  # integer columns (attempts, priorities, limits)
MAX_ID = 2**63 - 1  # bigint ids

# A JSON \u0000 escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def seconds(
    what: str,
    value: Any,
    *,
    minimum: float = 0.0,
    maximum: float = MAX_DELAY,
    inclusive: bool = True,
) -> float:
    """``value`` as a finite float in [minimum, maximum] (or (minimum, maximum])."""
    low = f"from {minimum:g}" if inclusive else f"more than {minimum:g}"
    high = "ten years" if maximum == MAX_DELAY else f"{maximum:g} s"
    message = f"{what} must be a finite number of seconds, {low} up to {high}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(message)
    number = float(value)
    if not math.isfinite(number) or number > maximum:
        raise InvalidInput(message)
    if number < minimum or (not inclusive and number == minimum):
        raise InvalidInput(message)
    return number


def number(what: str, value: Any, minimum: float, maximum: float) -> float:
    """``value`` as a finite float in [minimum, maximum]."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not minimum <= value <= maximum
    ):
        raise InvalidInput(
            f"{what} must be a finite number between {minimum:g} and {maximum:g}, got {value!r}"
        )
    return float(value)


def integer(what: str, value: Any, minimum: int, maximum: int = MAX_INT) -> int:
    """``value`` as an int in [minimum, maximum] (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(f"{what} must be an integer from {minimum} to {maximum}, got {value!r}")
    return value


def text(what: str, value: Any, *, max_length: int = 200) -> str:
    """A non-empty string the database can store (no NUL, no lone surrogate)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidInput(f"{what} must be a non-empty string of at most {max_length} characters")
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"{what} {problem}")
    return value


def text_problem(value: str) -> str | None:
    """Why a database cannot store this string, or None."""
    if "\x00" in value:
        return "contains a NUL character (\\x00), which databases cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode), which databases cannot store"
    return None


def encode_json(value: Any) -> str:
    """JSON text for ``value``, storable in both databases.

    Raises TypeError/ValueError (not JSON: NaN, a set, an object) or InvalidInput (a
    string the database cannot store), each with a message saying what is wrong."""
    encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" in encoded and _NUL_ESCAPE.search(encoded):
        raise InvalidInput(
            "a string contains a NUL character (\\u0000), which databases cannot store"
        )
    try:
        encoded.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "a string contains a lone surrogate (not valid Unicode), which databases cannot store"
        ) from None
    return encoded


def safe_text(value: str | None) -> str | None:
    """Free text (an error message, a traceback) with what databases refuse escaped."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
