"""Rate limits of job types: at most N starts in any period of P seconds, across all workers.

``@hh.job("mail:send", rate_limit=(100, 60))``, ``rate_limit=RateLimit(100, per=60)`` and
``rate_limit="100/m"`` all mean: at most 100 attempts of the type start in any 60 seconds.
Every start counts (a retry sends its e-mail again). Workers enforce it when they claim
(see ``claim_of_type`` in :mod:`hourhand.store.base`): each claim of a rate-limited type
is logged in ``hourhand_rate_starts`` and the starts of the last P seconds are counted first,
under a per-type lock, so that the claims of many workers together never exceed N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hourhand import checks
from hourhand.errors import InvalidInput

MAX_STARTS = 1_000_000  # the largest N of a rate limit
MAX_PERIOD = 7 * 86400.0  # seconds: the longest period of a rate limit (a week)
UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most ``starts`` starts in any ``per`` seconds."""

    starts: int
    per: float  # seconds

    def __post_init__(self) -> None:
        checks.integer("rate limit: starts", self.starts, 1, MAX_STARTS)
        object.__setattr__(
            self,
            "per",
            checks.seconds("rate limit: per", self.per, maximum=MAX_PERIOD, inclusive=False),
        )

    def __str__(self) -> str:
        return f"{self.starts} per {_duration(self.per)}"

    @classmethod
    def parse(cls, value: Any, what: str = "rate_limit") -> RateLimit:
        """A RateLimit from a RateLimit, an ``(N, seconds)`` pair or ``"N/unit"`` text
        (``"100/m"``, ``"10/s"``, ``"500/h"``, ``"20/30s"``); InvalidInput naming ``what``."""
        if isinstance(value, RateLimit):
            return value
        try:
            if isinstance(value, tuple | list) and len(value) == 2:
                return cls(value[0], value[1])
            if isinstance(value, str):
                match = _TEXT.match(value.lower())
                unit = _unit(match[3]) if match else None
                if match is None or unit is None:
                    raise InvalidInput(
                        f"cannot read {value!r}: write N/unit, e.g. '100/m', '10/s', '20/30s'"
                    )
                return cls(int(match[1]), float(match[2] or 1) * unit)
        except InvalidInput as exc:
            raise InvalidInput(f"{what}: {_strip(str(exc))}") from None
        raise InvalidInput(
            f"{what} must be (starts, seconds), RateLimit(starts, per=seconds) or text such as "
            f"'100/m', got {value!r}"
        )


@dataclass(frozen=True)
class RateUse:
    """How much of a job type's rate limit is used now, by the database's clock: the limit
    in force at its latest start, the starts of the last ``limit.per`` seconds, and when
    the next start is allowed if the limit is reached."""

    name: str
    limit: RateLimit
    used: int
    now: datetime
    free_in: float | None  # seconds until a start is allowed again; None: allowed now

    @property
    def reached(self) -> bool:
        return self.free_in is not None

    @property
    def free_at(self) -> datetime | None:
        return None if self.free_in is None else self.now + timedelta(seconds=self.free_in)

    def describe(self, *, waiting: bool) -> str:
        """One line for ``jobs show``; ``waiting``: the job is queued (not started)."""
        used = f"{self.used} started in the last {_duration(self.limit.per)}"
        if self.free_at is None or self.free_in is None:
            return f"{self.limit} ({used})"
        at = self.free_at.strftime("%H:%M:%S")
        lead = "waiting on its rate limit" if waiting else "reached"
        return (
            f"{lead}: {self.limit} ({used}); the next start is allowed at {at} UTC "
            f"(in {self.free_in:.0f}s)"
        )


def _unit(word: str) -> float | None:
    """Seconds in a unit: s, sec, second(s), m, min, minute(s), h, hour(s), d, day(s)."""
    return UNITS.get(word) or UNITS.get(word.removesuffix("s"))


def _duration(seconds: float) -> str:
    """60 -> "minute", 120 -> "2 minutes", 1.5 -> "1.5 seconds"."""
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _strip(message: str) -> str:
    return message.removeprefix("rate limit: ")
