"""A reference for the tests: cron fire times computed independently of hourhand.cron.

It walks real UTC instants in fixed steps, shows each in the zone, and matches the local
wall time against the fields (Debian cron's rules: day-of-month and day-of-week OR-ed when
both are restricted). Fixed-time schedules then fire once per local time (the first of a
repeated hour), plus, for each local time that a spring-forward gap swallowed, at the
first instant after that gap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

NAMES = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


def parse_field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-")
            first, last = NAMES.get(a) or int(a), NAMES.get(b) or int(b)
        else:
            first = last = NAMES[part] if part in NAMES else int(part)
        values.update(range(first, last + 1, step))
    return values


class Ref:
    def __init__(self, expr: str, tz: str) -> None:
        m, h, dom, mon, dow = expr.split()
        self.minutes = parse_field(m, 0, 59)
        self.hours = parse_field(h, 0, 23)
        self.doms = parse_field(dom, 1, 31)
        self.months = parse_field(mon, 1, 12)
        self.dows = {d % 7 for d in parse_field(dow, 0, 7)}
        self.dom_star, self.dow_star = dom.startswith("*"), dow.startswith("*")
        self.fixed = not m.startswith("*") and not h.startswith("*")
        self.zone = ZoneInfo(tz)

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom_ok = d.day in self.doms
        dow_ok = (d.isoweekday() % 7) in self.dows
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def matches(self, t: datetime) -> bool:
        return t.minute in self.minutes and t.hour in self.hours and self.day_matches(t.date())

    def fires(self, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
        """Fire times in [start, end), walking real instants ``step`` apart (the step
        must divide every minute the expression and the zone's offsets can land on)."""
        out: list[datetime] = []
        seen: set[datetime] = set()
        t = start
        while t < end:
            local = t.astimezone(self.zone).replace(tzinfo=None)
            if self.matches(local) and not (self.fixed and local in seen):
                out.append(t)
                seen.add(local)
            t += step
        if self.fixed:
            out += self.after_gaps(start, end)
        return sorted(set(out))

    def after_gaps(self, start: datetime, end: datetime) -> list[datetime]:
        """For each wanted local time that never shows (a gap), the first instant after."""
        found = []
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        while day <= end.astimezone(self.zone).date():
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        wanted = datetime.combine(day, datetime.min.time()).replace(
                            hour=hour, minute=minute
                        )
                        real = wanted.replace(tzinfo=self.zone).astimezone(UTC)
                        if real.astimezone(self.zone).replace(tzinfo=None) != wanted:
                            # a gap: find the instant where local time jumps past it
                            t = real - timedelta(hours=3)
                            while t.astimezone(self.zone).replace(tzinfo=None) < wanted:
                                t += timedelta(minutes=1)
                            if start <= t < end:
                                found.append(t)
            day += timedelta(days=1)
        return found
