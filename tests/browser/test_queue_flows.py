"""The queues page in Chromium, on both stores: an admin pauses a queue (confirming the
dialog) and resumes it, checked in the database and the audit log afterwards."""

from __future__ import annotations

from collections.abc import Callable

from hourhand.ops import Actor
from tests.browser import seed
from tests.browser.conftest import Live, Tab

CHECK = Actor.app("check")


def test_pause_and_resume_a_queue(live: Live, tab: Callable[..., Tab]) -> None:
    hh = live.hh
    seed.job(hh, "queued", queue="pause-me")
    assert not hh.queue("pause-me").paused
    t = tab("admin", dialogs=True)
    t.goto("/queues")
    t.page.click("form[action$='/queues/pause-me/pause'] button")
    t.page.wait_for_selector(".flash")
    assert t.guard.dialogs and t.guard.dialogs[-1].startswith("confirm: Pause this queue?")
    assert hh.queue("pause-me").paused  # workers claim nothing from it now
    t.page.click("form[action$='/queues/pause-me/resume'] button")
    t.page.wait_for_selector(".flash")
    assert not hh.queue("pause-me").paused
    actions = [e.action for e in hh.ops.audit.list(CHECK, "queue", "pause-me")]
    assert sorted(actions) == ["queue.pause", "queue.resume"]
