"""Cron expressions in a time zone: cronsim behind a small interface, UTC out.

Times follow Debian cron, the behaviour people expect from a crontab:

- a *fixed-time* schedule (neither the minute nor the hour field starts with ``*``) whose
  time is skipped by a spring-forward change fires right after the gap, and one whose time
  is repeated by a fall-back change fires once (the first time);
- a *wildcard* schedule (``*/15 * * * *``, ``0 * * * *``) fires at every real instant whose
  local time matches: an hourly schedule fires every real hour, twice through the repeated
  hour and not at all in the skipped one.

cronsim walks *naive* local times here; this module maps each one to the real instants that
show that local time (none in a gap, two in a repeated hour) and merges them in UTC order.
(cronsim's own handling of zones covers the fixed-time case only, and for wildcard schedules
walks wall-clock time, missing the repeated hour and yielding one UTC instant twice around
a gap.) Every fire time comes out as an aware UTC datetime, strictly increasing.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from hourhand.errors import InvalidCron, InvalidInput, InvalidTimeZone
from hourhand.humanize import plural

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, L, LW, 15W"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT, 5L, MON#2"),
)
# A later local time can map to an earlier instant only through a repeated (fall-back)
# hour, and no zone repeats more than two hours (Antarctica/Troll); gaps, however long
# (Pacific/Apia skipped a day in 2011), keep the order. Candidates are merged in UTC order
# with this much look-ahead.
LOOKAHEAD = timedelta(hours=3)
# Abbreviations people write for a place's time, and a zone that keeps that place's clock,
# daylight saving time included. EST, MST and HST are zones of their own, but fixed
# offsets (no DST); the others are not zone names at all.
PLACES = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver (or America/Phoenix, which keeps MST all year)",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "AKST": "America/Anchorage",
    "BST": "Europe/London",
    "CEST": "Europe/Berlin",
    "EEST": "Europe/Helsinki",
    "AEST": "Australia/Sydney",
}
FIXED_OFFSET_NAMES = ("EST", "MST", "HST")  # zones that are fixed offsets named like places
_OFFSET_NAME_RE = re.compile(r"^(?:Etc/)?GMT([+-])(\d{1,2})$")  # Etc/GMT+5 is UTC-05:00
# For a fixed offset in hours: a zone of a place that keeps it part of the year.
OFFSET_PLACES = {
    -10: "Pacific/Honolulu",
    -8: "America/Los_Angeles",
    -7: "America/Denver",
    -6: "America/Chicago",
    -5: "America/New_York",
    -3: "America/Sao_Paulo",
    1: "Europe/Berlin",
    2: "Europe/Helsinki",
    3: "Europe/Moscow",
    10: "Australia/Sydney",
}
GAP_STEP = timedelta(minutes=1)
MAX_GAP = timedelta(hours=25)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; InvalidTimeZone names the problem."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidTimeZone(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Stockholm"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        example = PLACES.get(name.upper(), "Europe/Stockholm or UTC")
        raise InvalidTimeZone(
            f"unknown time zone {name!r}: use an IANA name such as {example}"
        ) from None


def zone_warning(name: str) -> str | None:
    """A warning for a zone that is a fixed offset named like a place's time (EST, MST,
    HST, Etc/GMT+5): its times never move for daylight saving time, which is rarely what
    is meant. None for any other zone (UTC included). InvalidTimeZone if it is no zone."""
    tz = zone(name)
    offset_name = _OFFSET_NAME_RE.match(name)
    if name not in FIXED_OFFSET_NAMES and offset_name is None:
        return None
    offset = datetime.now(UTC).astimezone(tz).utcoffset()
    if not offset:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    utc = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    place = PLACES.get(name) or OFFSET_PLACES.get(minutes // 60)
    note = ""
    if offset_name is not None:
        ahead = "behind" if offset_name[1] == "+" else "ahead of"
        hours = plural(int(offset_name[2]), "hour")
        note = f" (mind the sign: {name} is {hours} {ahead} UTC)"
    example = f"e.g. {place}" if place else "Area/City, e.g. Europe/Stockholm"
    return (
        f"time zone {name!r} is a fixed offset, {utc}, with no daylight saving time{note}: "
        f"for a place's local time use its IANA name, {example}"
    )


def normalize(expr: str) -> str:
    """Five upper-case fields; nicknames expanded; InvalidCron names the bad field."""
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidCron("empty cron expression: expected five fields, e.g. '*/15 * * * *'")
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() not in NICKNAMES:
            known = " ".join(NICKNAMES)
            raise InvalidCron(f"unknown cron nickname {text!r} (known: {known})")
        return NICKNAMES[text.lower()]
    fields = text.upper().split(" ")
    if len(fields) != 5:
        raise InvalidCron(
            f"bad cron expression {expr!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)}"
        )
    for index, (name, allowed) in enumerate(FIELDS):
        probe = ["*"] * 5
        probe[index] = fields[index]
        try:
            CronSim(" ".join(probe), datetime(2000, 1, 1))
        except (CronSimError, ValueError, IndexError):
            raise InvalidCron(
                f"bad cron expression {expr!r}: the {name} field {fields[index]!r} is not "
                f"valid (allowed: {allowed}, *, lists a,b, ranges a-b, steps */n)"
            ) from None
    try:
        CronSim(" ".join(fields), datetime(2000, 1, 1))
    except (CronSimError, ValueError, IndexError):
        raise InvalidCron(
            f"bad cron expression {expr!r}: day-of-month {fields[2]!r} never occurs in "
            f"month {fields[3]!r}"
        ) from None
    return " ".join(fields)


@dataclass(frozen=True)
class Cron:
    """A cron expression in a time zone. Build with :meth:`parse`."""

    expr: str  # five fields, nicknames expanded
    tz: str  # IANA name
    zone: ZoneInfo = field(repr=False, compare=False)
    fixed: bool = field(repr=False, compare=False)  # minute and hour are fixed times

    @classmethod
    def parse(cls, expr: str, tz: str = "UTC") -> Cron:
        fields = normalize(expr)
        minute, hour = fields.split(" ")[:2]
        cron = cls(fields, tz, zone(tz), not minute.startswith("*") and not hour.startswith("*"))
        if cron.next(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise InvalidCron(f"cron expression {expr!r} never fires")
        return cron

    def fires(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``after`` (aware), in UTC, strictly increasing."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise InvalidInput("cron fire times need an aware datetime (e.g. in UTC)")
        after = after.astimezone(UTC)
        try:
            start = (after - LOOKAHEAD).astimezone(self.zone).replace(tzinfo=None)
        except OverflowError:  # within a day of year 1
            start = datetime(1, 1, 2)
        pending: list[datetime] = []
        last: datetime | None = None
        try:
            for naive in CronSim(self.expr, start):
                for instant in self._instants(naive):
                    heapq.heappush(pending, instant)
                floor = naive.replace(tzinfo=self.zone).astimezone(UTC) - LOOKAHEAD
                while pending and pending[0] <= floor:
                    instant = heapq.heappop(pending)
                    if instant > after and (last is None or instant > last):
                        last = instant
                        yield instant
        except (StopIteration, OverflowError):  # nothing within 50 years, or past year 9999
            pass
        while pending:
            instant = heapq.heappop(pending)
            if instant > after and (last is None or instant > last):
                last = instant
                yield instant

    def next(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after``, or None if there is none."""
        return next(self.fires(after), None)

    def next_n(self, after: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        for instant in self.fires(after):
            if len(out) >= count:
                break
            out.append(instant)
        return out

    def describe(self) -> str:
        """The expression in words, e.g. 'At 08:00 on Monday'."""
        try:
            text = CronSim(self.expr, datetime(2000, 1, 1)).explain()
        except Exception:  # the words are a convenience: never fail a preview for them
            return self.expr
        return text if self.tz == "UTC" else f"{text} ({self.tz} time)"

    def _instants(self, naive: datetime) -> list[datetime]:
        """The real instants whose local time in the zone is ``naive``."""
        early = naive.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        late = naive.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        if early == late:
            return [early]
        if _shows(early, self.zone, naive) and _shows(late, self.zone, naive):
            first, second = sorted((early, late))
            return [first] if self.fixed else [first, second]
        # In a gap: no instant shows this time. A fixed time fires right after the gap.
        if not self.fixed:
            return []
        probe = naive
        while probe - naive < MAX_GAP:
            probe += GAP_STEP
            instant = probe.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
            if _shows(instant, self.zone, probe):
                return [instant]
        return []


def _shows(instant: datetime, tz: ZoneInfo, naive: datetime) -> bool:
    return instant.astimezone(tz).replace(tzinfo=None) == naive
