"""Retry policies: how long to wait before attempt ``n + 1`` after attempt ``n`` failed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hourhand import checks
from hourhand.checks import MAX_DELAY
from hourhand.errors import InvalidInput

# jitter from a generator of our own: the global `random` state belongs to the application
_jitter = random.Random()

Unit = Literal["seconds", "minutes", "hours"]
_UNIT_SECONDS: dict[str, float] = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}

DEFAULT_BASE = 10.0  # seconds before the first retry
DEFAULT_FACTOR = 2.0
DEFAULT_CAP = 3600.0  # seconds; no wait is longer than this
DEFAULT_JITTER = 0.1  # +/- 10 % so a burst of failures does not retry in lockstep
MAX_FACTOR = 1000.0


@dataclass(frozen=True)
class Retry:
    """A retry policy. Build one with :meth:`exponential`, :meth:`fixed` or :meth:`none`."""

    kind: Literal["exponential", "fixed", "none"]
    base: float = DEFAULT_BASE
    factor: float = DEFAULT_FACTOR
    cap: float = DEFAULT_CAP
    jitter: float = DEFAULT_JITTER
    delays: tuple[float, ...] = ()

    @classmethod
    def exponential(
        cls,
        base: float = DEFAULT_BASE,
        factor: float = DEFAULT_FACTOR,
        cap: float = DEFAULT_CAP,
        jitter: float = DEFAULT_JITTER,
    ) -> Retry:
        """Wait ``base * factor ** (n - 1)`` seconds after failed attempt n, at most ``cap``,
        spread by ``+/- jitter`` (a fraction)."""
        return cls(
            "exponential",
            base=checks.seconds("Retry.exponential's base", base),
            factor=checks.number("Retry.exponential's factor", factor, 1, MAX_FACTOR),
            cap=checks.seconds("Retry.exponential's cap", cap),
            jitter=checks.number("Retry.exponential's jitter", jitter, 0, 1),
        )

    @classmethod
    def fixed(cls, delays: Sequence[float], unit: Unit = "seconds") -> Retry:
        """Wait ``delays[n - 1]`` after failed attempt n; the last delay repeats."""
        if unit not in _UNIT_SECONDS:
            raise InvalidInput(f"Retry.fixed unit must be one of {sorted(_UNIT_SECONDS)}")
        if isinstance(delays, str) or not delays:
            raise InvalidInput("Retry.fixed needs a non-empty list of delays")
        scale = _UNIT_SECONDS[unit]
        return cls(
            "fixed",
            delays=tuple(
                checks.seconds(f"a Retry.fixed delay (in {unit})", d, maximum=MAX_DELAY / scale)
                * scale
                for d in delays
            ),
        )

    @classmethod
    def none(cls) -> Retry:
        """Never retry: the first failure fails the job."""
        return cls("none")

    def describe(self) -> str:
        """The policy in words: ``fixed: 5 min, 15 min, 1 h (the last repeats)``,
        ``exponential: 10 s, x2 a retry, at most 10 min, +/-10%``, ``none``."""
        if self.kind == "none":
            return "none: the first failure fails the job"
        if self.kind == "fixed":
            return f"fixed: {', '.join(map(_span, self.delays))} (the last repeats)"
        jitter = f", +/-{self.jitter:.0%}" if self.jitter else ""
        return (
            f"exponential: {_span(self.base)}, x{self.factor:g} a retry, "
            f"at most {_span(self.cap)}{jitter}"
        )

    def delay(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based); None means do not retry."""
        if self.kind == "none":
            return None
        if self.kind == "fixed":
            return self.delays[min(attempt, len(self.delays)) - 1]
        try:
            raw = min(self.cap, self.base * self.factor ** max(attempt - 1, 0))
        except OverflowError:  # factor ** attempt beyond a float: the cap applies
            raw = self.cap if self.base > 0 else 0.0
        if self.jitter:
            raw *= 1 + _jitter.uniform(-self.jitter, self.jitter)
        return max(0.0, min(raw, self.cap))


def _span(seconds: float) -> str:
    """A delay in the largest unit that divides it: 90 s, 5 min, 4 h, 1 d."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


DEFAULT_RETRY = Retry.exponential()
