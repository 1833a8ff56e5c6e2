"""The schedules pages in Chromium, on both stores (needs the pages of branch dash-sched:
/schedules/{id}, its edit form with the cron preview and diff confirm, its trigger form):
edit a schedule's cron with the live preview, trigger a schedule; each checked in the
database afterwards."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from hourhand.ops import Actor
from tests.browser import seed
from tests.browser.conftest import Live, Tab

CHECK = Actor.app("check")


def test_edit_a_schedules_cron_with_the_preview(live: Live, tab: Callable[..., Tab]) -> None:
    hh = live.hh
    sid = seed.schedule(hh, "edit-me", cron="0 3 * * *", tz="Europe/Amsterdam", org_id="org_a")
    t = tab("org_a")
    t.goto(f"/schedules/{sid}/edit")
    preview = t.page.locator("#cron-preview")
    assert "03:00" in preview.locator("tbody td").first.inner_text()
    with t.page.expect_response(lambda r: "/fragments/cron-preview" in r.url and "6" in r.url):
        t.page.fill("#f-cron", "30 6 * * 1-5")  # typed: the script asks for a preview
    t.page.wait_for_function(
        "document.querySelector('#cron-preview tbody td').textContent.includes('06:30')"
    )
    assert "04:30 UTC" in preview.inner_text() or "05:30 UTC" in preview.inner_text()

    t.page.click("button[name=action][value=review]")
    diff = t.page.locator("table.diff")
    assert "0 3 * * *" in diff.inner_text() and "30 6 * * 1-5" in diff.inner_text()
    assert hh.ops.schedules.get(CHECK, sid).cron == "0 3 * * *"  # nothing saved yet

    t.page.click("button[name=action][value=save]")
    t.page.wait_for_selector(".flash")
    saved = hh.ops.schedules.get(CHECK, sid)
    assert saved.cron == "30 6 * * 1-5" and saved.tz == "Europe/Amsterdam"
    assert saved.next_fire_at is not None
    local = saved.next_fire_at.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert (local.hour, local.minute) == (6, 30) and local.weekday() < 5
    [entry] = hh.ops.audit.list(CHECK, "schedule", sid, "schedule.update")
    assert (entry.actor_kind, entry.actor) == ("user", "org_a")
    assert entry.details == {"before": {"cron": "0 3 * * *"}, "after": {"cron": "30 6 * * 1-5"}}


def test_trigger_a_schedule(live: Live, tab: Callable[..., Tab]) -> None:
    hh = live.hh
    sid = seed.schedule(hh, "trigger-me", org_id="org_a")
    assert hh.store.schedule_jobs(sid, 10) == []
    t = tab("org_a", dialogs=True)
    t.goto(f"/schedules/{sid}")
    t.page.click(f"form[action$='/schedules/{sid}/trigger'] button")
    t.page.wait_for_selector(".flash")
    assert t.guard.dialogs == ["confirm: Run trigger-me now?"]
    [job] = hh.store.schedule_jobs(sid, 10)
    assert f"job {job.id}" in t.page.locator(".flash").inner_text()
    assert (job.name, job.args, job.org_id) == ("reports:generate", {"report_id": "daily"}, "org_a")
    [run] = hh.ops.schedules.runs(CHECK, sid).runs
    assert run.fire.status == "triggered" and run.fire.job_id == job.id
    [entry] = hh.ops.audit.list(CHECK, "schedule", sid, "schedule.trigger")
    assert (entry.actor_kind, entry.actor, entry.details) == ("user", "org_a", {"job": job.id})
