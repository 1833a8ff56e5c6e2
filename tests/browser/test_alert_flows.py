"""The alerts page in Chromium, on both stores (needs the page of branch dash-sched:
/alerts and its acknowledge form): acknowledge a firing alert, checked in the database
afterwards."""

from __future__ import annotations

from collections.abc import Callable

from hourhand.ops import Actor
from tests.browser import seed
from tests.browser.conftest import Live, Tab

CHECK = Actor.app("check")


def test_acknowledge_an_alert(live: Live, tab: Callable[..., Tab]) -> None:
    hh = live.hh
    alert_id = seed.alert(hh, "queue mail: 40 jobs waiting", key="queue:ack-me", org_id="org_a")
    other = seed.alert(hh, "queue mail: 41 jobs waiting", key="queue:leave-me", org_id="org_a")
    assert hh.store.alerts.get_alert(alert_id).acked_at is None
    t = tab("org_a")
    t.goto("/alerts")
    t.page.click(f"form[action$='/alerts/{alert_id}/ack'] button")
    t.page.wait_for_selector(".flash")
    assert f"Alert {alert_id}" in t.page.locator(".flash").inner_text()
    acked = hh.store.alerts.get_alert(alert_id)
    assert acked.acked_at is not None and acked.acked_by is not None
    assert "org_a" in acked.acked_by and acked.state == "firing"  # acknowledged, not resolved
    assert hh.store.alerts.get_alert(other).acked_at is None
    row = t.page.locator("tr", has=t.page.locator(f"form[action$='/alerts/{alert_id}/ack']"))
    assert row.locator("button", has_text="Unacknowledge").count() == 1
    [entry] = hh.ops.audit.list(CHECK, "alert", alert_id, "alert.ack")
    assert (entry.actor_kind, entry.actor) == ("user", "org_a")
