from __future__ import annotations

import pytest

from hourhand.humanize import duration, plural


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 ms"),
        (0.0004, "0.4 ms"),
        (0.0025, "2.5 ms"),
        (0.0123, "12 ms"),
        (0.85, "850 ms"),
        (0.9996, "1.0 s"),  # rounds up into seconds, never "1000 ms"
        (1, "1.0 s"),
        (10, "10.0 s"),
        (59.94, "59.9 s"),
        (60, "1 min"),
        (125, "2 min 5 s"),
        (600, "10 min"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
        (None, "-"),
        (float("nan"), "-"),
        (-1, "-"),
    ],
)
def test_duration_is_written_one_way(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_plural() -> None:
    assert [plural(n, "job") for n in (0, 1, 2)] == ["0 jobs", "1 job", "2 jobs"]
    assert plural(2, "entry", "entries") == "2 entries"
