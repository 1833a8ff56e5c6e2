"""Cron expressions: Debian cron semantics across DST, strictly increasing UTC, errors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from hourhand.cron import Cron, zone_warning
from hourhand.errors import InvalidCron, InvalidInput, InvalidTimeZone
from tests.support.cronref import Ref

EXPRESSIONS = [
    "*/15 * * * *",
    "0 * * * *",
    "30 2 * * *",
    "0 3 * * *",
    "30 1 * * *",
    "0 0 1 * *",
    "0 9 * * 1-5",
]
ZONES = ["UTC", "Europe/Stockholm", "America/New_York", "Australia/Lord_Howe"]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2027, 1, 1, tzinfo=UTC)


def fires_between(cron: Cron, start: datetime, end: datetime) -> list[datetime]:
    out = []
    for fire in cron.fires(start - timedelta(microseconds=1)):
        if fire >= end:
            break
        out.append(fire)
    return out


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_a_year_of_fire_times_matches_the_reference(expr: str, tz: str) -> None:
    got = fires_between(Cron.parse(expr, tz), YEAR_START, YEAR_END)
    want = Ref(expr, tz).fires(YEAR_START, YEAR_END, timedelta(minutes=15))
    assert got == want
    assert all(a < b for a, b in itertools.pairwise(got))


def test_debian_dst_rules_spelled_out() -> None:
    def local(expr: str, tz: str, day: str) -> list[str]:
        cron = Cron.parse(expr, tz)
        midnight = datetime.fromisoformat(day)
        start = midnight.replace(tzinfo=cron.zone).astimezone(UTC)
        end = (midnight + timedelta(days=1)).replace(tzinfo=cron.zone).astimezone(UTC)
        return [
            f.astimezone(cron.zone).strftime("%H:%M%z") for f in fires_between(cron, start, end)
        ]

    # Stockholm springs forward at 02:00 -> 03:00 on 2026-03-29
    assert local("30 2 * * *", "Europe/Stockholm", "2026-03-29") == ["03:00+0200"]
    assert local("0 * * * *", "Europe/Stockholm", "2026-03-29")[:3] == [
        "00:00+0100",
        "01:00+0100",
        "03:00+0200",
    ]  # 23 real hours, 23 fires
    assert len(local("0 * * * *", "Europe/Stockholm", "2026-03-29")) == 23
    # ... and falls back at 03:00 -> 02:00 on 2026-10-25
    assert local("30 2 * * *", "Europe/Stockholm", "2026-10-25") == ["02:30+0200"]  # once
    hourly = local("0 * * * *", "Europe/Stockholm", "2026-10-25")
    assert hourly[:4] == ["00:00+0200", "01:00+0200", "02:00+0200", "02:00+0100"]
    assert len(hourly) == 25  # every real hour


def test_nicknames_names_and_special_fields() -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    assert Cron.parse("@daily").expr == "0 0 * * *"
    assert Cron.parse("@hourly").expr == "0 * * * *"
    assert Cron.parse("@weekly").next(after) == datetime(2026, 1, 4, tzinfo=UTC)  # a Sunday
    assert Cron.parse("@monthly").next(after) == datetime(2026, 2, 1, tzinfo=UTC)
    assert Cron.parse("@yearly").next(after) == datetime(2027, 1, 1, tzinfo=UTC)
    assert Cron.parse("0 8 * JAN MON").next(after) == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert Cron.parse("0 0 L * *").next(after) == datetime(2026, 1, 31, tzinfo=UTC)
    assert Cron.parse("0 0 * * 5L").next(after) == datetime(2026, 1, 30, tzinfo=UTC)
    assert Cron.parse("0 0 * * MON#2").next(after) == datetime(2026, 1, 12, tzinfo=UTC)
    assert Cron.parse("0 8 * * 1").describe() == "At 08:00 on Monday"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "the minute field '61' is not valid"),
        ("* 24 * * *", "the hour field '24' is not valid"),
        ("* * 0 * *", "the day-of-month field '0' is not valid"),
        ("* * * 13 *", "the month field '13' is not valid"),
        ("* * * * FOO", "the day-of-week field 'FOO' is not valid"),
        ("* * * *", "expected 5 fields"),
        ("0 * * * * *", "expected 5 fields"),
        ("@sometimes", "unknown cron nickname"),
        ("", "empty cron expression"),
        ("0 0 30 2 *", "day-of-month '30' never occurs in month '2'"),
    ],
)
def test_bad_expressions_name_the_problem(expr: str, message: str) -> None:
    with pytest.raises(InvalidCron, match=message):
        Cron.parse(expr)


def test_bad_zone_and_naive_time() -> None:
    with pytest.raises(InvalidTimeZone, match="unknown time zone 'Europe/Atlantis'"):
        Cron.parse("@daily", "Europe/Atlantis")
    with pytest.raises(InvalidTimeZone):
        Cron.parse("@daily", "../../etc/passwd")
    with pytest.raises(InvalidInput, match="aware"):
        Cron.parse("@daily").next(datetime(2026, 1, 1))


FIELD = st.sampled_from(["*", "*/5", "0", "15", "30", "45", "0,30", "10-20", "*/20"])
HOUR = st.sampled_from(["*", "*/2", "0", "1", "2", "3", "1-3", "0,12", "23"])
DOM = st.sampled_from(["*", "1", "15", "28", "1,15", "*/10"])
MONTH = st.sampled_from(["*", "1", "3", "10", "3,10", "*/3"])
DOW = st.sampled_from(["*", "1-5", "0", "6", "MON", "SUN,SAT"])
ZONE = st.sampled_from([*ZONES, "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo"])
START = st.datetimes(datetime(2024, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(m=FIELD, h=HOUR, dom=DOM, mon=MONTH, dow=DOW, tz=ZONE, start=START)
def test_fire_times_strictly_increase_and_match_cronsim_in_utc(
    m: str, h: str, dom: str, mon: str, dow: str, tz: str, start: datetime
) -> None:
    expr = f"{m} {h} {dom} {mon} {dow}"
    fires = Cron.parse(expr, tz).next_n(start, 40)
    assert fires and all(f.tzinfo is UTC for f in fires)
    assert all(a < b for a, b in itertools.pairwise(fires))
    assert fires[0] > start
    ref = Ref(expr, tz)
    if tz == "UTC" or ref.fixed:
        # exactly cronsim's own answer, in UTC (cronsim applies Debian's DST rules to
        # fixed-time expressions itself; for wildcard ones in a zone it walks wall-clock
        # time, which hourhand corrects, so those are checked against the fields instead)
        sim = CronSim(expr, start.astimezone(ref.zone).replace(microsecond=0))
        assert fires == [next(sim).astimezone(UTC) for _ in range(40)]
    else:  # every fire shows a local time the expression matches
        for fire in fires:
            assert ref.matches(fire.astimezone(ref.zone).replace(tzinfo=None))


@pytest.mark.parametrize(
    ("tz", "offset"),
    [("EST", "UTC-05:00"), ("MST", "UTC-07:00"), ("HST", "UTC-10:00"), ("Etc/GMT+5", "UTC-05:00")],
)
def test_zone_warning_names_fixed_offsets_without_dst(tz: str, offset: str) -> None:
    warning = zone_warning(tz)
    assert warning is not None
    assert warning.startswith(f"time zone {tz!r} is a fixed offset, {offset}, with no daylight")


@pytest.mark.parametrize("tz", ["UTC", "Etc/UTC", "GMT", "Etc/GMT+0", "Europe/Stockholm"])
def test_zone_warning_is_none_for_utc_and_places(tz: str) -> None:
    assert zone_warning(tz) is None


def test_zone_warning_of_no_zone_is_an_error() -> None:
    with pytest.raises(InvalidTimeZone, match="America/Los_Angeles"):
        zone_warning("PST")
