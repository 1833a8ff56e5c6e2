from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hourhand import InvalidInput, Retry


def test_fixed_delays_in_seconds_and_minutes_repeat_the_last() -> None:
    policy = Retry.fixed([5, 15, 60, 240, 1440])
    assert [policy.delay(n) for n in range(1, 8)] == [5, 15, 60, 240, 1440, 1440, 1440]
    minutes = Retry.fixed([1, 5], unit="minutes")
    assert [minutes.delay(1), minutes.delay(2)] == [60, 300]


def test_none_never_retries() -> None:
    assert Retry.none().delay(1) is None


def test_exponential_without_jitter_doubles_up_to_the_cap() -> None:
    policy = Retry.exponential(base=10, factor=2, cap=60, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


@given(
    base=st.floats(0, 1000),
    factor=st.floats(1, 10),
    cap=st.floats(0, 100_000),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 500),
)
def test_exponential_is_never_negative_nor_above_the_cap(
    base: float, factor: float, cap: float, jitter: float, attempt: int
) -> None:
    delay = Retry.exponential(base=base, factor=factor, cap=cap, jitter=jitter).delay(attempt)
    assert delay is not None and 0 <= delay <= cap


@pytest.mark.parametrize(
    "build",
    [
        lambda: Retry.fixed([]),
        lambda: Retry.fixed([-1]),
        lambda: Retry.fixed([1], unit="days"),  # type: ignore[arg-type]
        lambda: Retry.exponential(base=-1),
        lambda: Retry.exponential(jitter=2),
    ],
)
def test_bad_policies_are_refused(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        build()


def test_a_policy_in_words_for_the_job_types_listing() -> None:
    assert Retry.fixed([5, 15, 60, 240, 1440], unit="minutes").describe() == (
        "fixed: 5 min, 15 min, 1 h, 4 h, 1 d (the last repeats)"
    )
    assert Retry.exponential(base=10, cap=600).describe() == (
        "exponential: 10 s, x2 a retry, at most 10 min, +/-10%"
    )
    assert Retry.exponential(base=90, jitter=0).describe() == (
        "exponential: 90 s, x2 a retry, at most 1 h"
    )
    assert Retry.none().describe().startswith("none")
