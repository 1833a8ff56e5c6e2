"""Screenshots of every page of ``PAGES`` at a desktop's width (1280x800) and a phone's
(375x812), signed in as an admin over a small, lifelike data set on SQLite. At the phone's
width no page may scroll sideways (wide tables scroll inside their own box), nor at the
narrowest (360 px) and widest (1920 px) widths the dashboard is made for.

The pictures go to a temporary folder; with ``HOURHAND_UPDATE_SCREENSHOTS=1`` they replace
those of docs/screenshots/ (committed, shown in docs/dashboard-screenshots.md), so that a
test run does not touch the tree unless asked to."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from hourhand import Hourhand
from hourhand.jobs import JobState
from hourhand.web.dashboard.pages import PAGES
from tests.browser import seed
from tests.browser.conftest import DESKTOP, PHONE, Live, Tab

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the pictures are the same on both stores."""
    return f"sqlite:///{tmp_path_factory.mktemp('screens')}/hourhand.db"


def seed_live(hh: Hourhand) -> seed.Seeded:
    """A day of an ordinary app: reports, e-mails and a few failures, two organisations."""
    seeded = seed.every_state(hh)
    done = seed.Outcomes(result={"sent": True}, duration=0.42)
    for i in range(12):
        seed.job(
            hh, JobState.COMPLETED, "emails:send", {"to": f"user{i}@example.com"}, outcomes=done
        )
    for i, org in enumerate(("acme", "globex", "acme")):
        seed.job(
            hh,
            JobState.COMPLETED,
            "reports:generate",
            {"report_id": f"r-{i}"},
            org_id=org,
            outcomes=seed.Outcomes(result={"rows": 120 + i}),
        )
    timeout = seed.Outcomes(error="TimeoutError: smtp.example.com did not answer in 30 s")
    seed.job(hh, JobState.FAILED, "emails:send", {"to": "ops@example.com"}, outcomes=timeout)
    seed.job(hh, JobState.RETRYING, "emails:send", {"to": "sales@example.com"}, outcomes=timeout)
    for i in range(3):
        seed.job(hh, JobState.QUEUED, "emails:send", {"to": f"late{i}@example.com"})
    seed.schedule(
        hh,
        "hourly-digest",
        job="emails:send",
        cron="0 * * * *",
        tz="UTC",
        args={"to": "digest@example.com"},
    )
    seed.schedule(
        hh,
        "weekly-cleanup",
        job="echo",
        cron="30 2 * * 1",
        tz="America/New_York",
        args={"text": "cleanup"},
        org_id="acme",
    )
    seed.worker_beat(hh)
    seed.worker_beat(hh, "web-2.internal:5151:9c0d", queues=("mail",))
    return seeded


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_every_page_at_desktop_and_phone_widths(
    live: Live, tab: Callable[..., Tab], tmp_path: Path
) -> None:
    out = DOCS if os.environ.get("HOURHAND_UPDATE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    seeded: seed.Seeded = live.seeded
    ids = {
        "job_id": seeded.jobs["failed"],
        "schedule_id": seeded.schedules["nightly"],
        "alert_id": seeded.alerts["backlog"],
    }
    for size, viewport in SIZES.items():
        t = tab("admin", viewport=viewport)
        for page in PAGES:
            path = page.fill(**ids)
            t.goto(path)
            wide = t.page.evaluate("document.documentElement.scrollWidth")
            assert wide <= viewport["width"], f"{path} at {size}: {wide} px wide"
            shot = out / f"{page.name}-{size}.png"
            t.page.screenshot(path=shot)
            assert png_size(shot) == (viewport["width"], viewport["height"])
        t.guard.assert_clean(size)
    dark = tab("admin", viewport=DESKTOP)
    dark.page.emulate_media(color_scheme="dark")
    dark.goto("/")
    dark.page.screenshot(path=out / "overview-dark-desktop.png")


@pytest.mark.parametrize("width", [360, 1920])
def test_no_page_scrolls_sideways_at_the_narrowest_and_widest_widths(
    live: Live, tab: Callable[..., Tab], width: int
) -> None:
    seeded: seed.Seeded = live.seeded
    ids = {
        "job_id": seeded.jobs["failed"],
        "schedule_id": seeded.schedules["nightly"],
        "alert_id": seeded.alerts["backlog"],
    }
    t = tab("admin", viewport={"width": width, "height": 800})
    for page in PAGES:
        path = page.fill(**ids)
        t.goto(path)
        wide = t.page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{path} at {width} px: {wide} px wide"
    t.guard.assert_clean(f"{width} px")
