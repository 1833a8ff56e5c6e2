"""Numbers in words for people: durations and counted nouns, written one way everywhere."""

from __future__ import annotations

import math

MINUTE = 60.0  # seconds
HOUR = 3600.0  # seconds


def duration(seconds: float | None) -> str:
    """A duration the way hourhand writes them all.

    Below a second in milliseconds (``850 ms``; ``2.5 ms`` below ten), below a minute in
    seconds with one decimal (``10.0 s``), then whole minutes and seconds (``2 min 5 s``)
    and hours and minutes (``1 h 30 min``). None, NaN and negative values are ``-``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    ms = seconds * 1000
    if round(ms, 1) < 10:
        return f"{ms:.1f} ms" if ms else "0 ms"
    if round(ms) < 1000:
        return f"{round(ms)} ms"
    if round(seconds, 1) < MINUTE:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < HOUR:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 job``, ``2 jobs``, ``0 jobs``; ``nouns`` for an irregular plural."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
