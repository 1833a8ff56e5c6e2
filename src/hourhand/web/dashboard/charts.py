"""Charts as server-rendered SVG: the geometry is computed here, the SVG is written by the
template ``_chart.html`` (so everything in it is escaped by the template layer; no script,
no style attributes, colours from the stylesheet's classes).

``throughput(points, now=..., minutes=60, bucket=1)``: completed attempts (stacked under
failed ones) per minute, over the last ``minutes``, one bar per ``bucket`` minutes (a
bucket's bar is its per-minute average).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hourhand.stats import StatsPoint

WIDTH = 600  # the viewBox; the SVG scales to its container
HEIGHT = 170
LEFT = 36  # room for the y labels
BOTTOM = 18  # room for the x labels
TOP = 8
GRID_LINES = 3


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    ok_y: float  # completed: from ok_y down to the axis
    ok_height: float
    bad_y: float  # failed: stacked on top
    bad_height: float
    label: str  # the tooltip: "12:03 UTC: 5.0 completed, 1.0 failed per minute"


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    left: int
    top: int
    bottom_y: float  # the x axis
    right_x: float
    bars: list[Bar]
    grid: list[tuple[float, str]]  # (y, label)
    ticks: list[tuple[float, str, str]]  # (x, label, text-anchor)
    completed: int  # over the whole span
    failed: int
    empty: bool  # nothing counted in the span

    @property
    def description(self) -> str:
        return f"{self.title}: {self.completed:,} completed, {self.failed:,} failed"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return float(step * power)
    return 10.0 * power  # (not reached)


def _number(value: float) -> str:
    if value >= 1000:
        return f"{round(value / 1000, 2):g}k"
    return f"{round(value, 3):g}"


def throughput(
    points: Sequence[StatsPoint],
    *,
    now: datetime,
    minutes: int = 60,
    bucket: int = 1,
    title: str = "Completed and failed per minute",
) -> Chart:
    """The chart of ``points`` (the rollup's minutes, any order) over the ``minutes``
    before ``now``, one bar per ``bucket`` minutes."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    count = max(1, minutes // bucket)
    completed = [0] * count
    failed = [0] * count
    for point in points:
        if not start <= point.minute < end:
            continue
        index = min(count - 1, int((point.minute - start).total_seconds() // 60) // bucket)
        completed[index] += point.completed
        failed[index] += point.failed
    rates = [(c / bucket, f / bucket) for c, f in zip(completed, failed, strict=True)]
    step = nice_ceiling(max((c + f for c, f in rates), default=0) / GRID_LINES)
    top_value = step * GRID_LINES
    plot_w = WIDTH - LEFT - 4
    plot_h = HEIGHT - TOP - BOTTOM
    bottom_y = TOP + plot_h
    slot = plot_w / count
    gap = min(1.0, slot * 0.2)
    bars = []
    for i, (ok, bad) in enumerate(rates):
        if ok == 0 and bad == 0:
            continue
        ok_h = plot_h * ok / top_value
        bad_h = plot_h * bad / top_value
        at = start + timedelta(minutes=i * bucket)
        span = f"{at:%H:%M}"
        if bucket > 1:
            span += f"-{at + timedelta(minutes=bucket):%H:%M}"
        bars.append(
            Bar(
                x=round(LEFT + i * slot + gap / 2, 2),
                width=round(max(0.5, slot - gap), 2),
                ok_y=round(bottom_y - ok_h, 2),
                ok_height=round(ok_h, 2),
                bad_y=round(bottom_y - ok_h - bad_h, 2),
                bad_height=round(bad_h, 2),
                label=f"{span} UTC: {ok:g} completed, {bad:g} failed per minute",
            )
        )
    grid = [
        (round(bottom_y - plot_h * k / GRID_LINES, 2), _number(step * k))
        for k in range(1, GRID_LINES + 1)
    ]
    ticks = [
        (float(LEFT), f"{start:%H:%M}", "start"),
        (round(LEFT + plot_w / 2, 2), f"{start + (end - start) / 2:%H:%M}", "middle"),
        (float(LEFT + plot_w), f"{end:%H:%M} UTC", "end"),
    ]
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        bottom_y=bottom_y,
        right_x=LEFT + plot_w,
        bars=bars,
        grid=grid,
        ticks=ticks,
        completed=sum(completed),
        failed=sum(failed),
        empty=not bars,
    )
