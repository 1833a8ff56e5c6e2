"""The dashboard's schedules on both stores: the listing, a schedule's page with its
ledger and edit history, the edit with its preview and before/after confirm, trigger,
enable/disable, a new schedule from a job type's form; each action checked in the
database; roles, CSRF and organisation scope."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest

from hourhand import Hourhand, JobContext
from hourhand.ops import Actor
from hourhand.schedule_model import Schedule
from tests.apps.web_app import define
from tests.conftest import WorkerThread, wait_until
from tests.web.dashboard_client import Browser, make_users

APP = Actor.app("tests")


@pytest.fixture
def hh(store_url: str) -> Iterator[Hourhand]:
    app = define(Hourhand(store_url))

    @app.cron("0 6 * * *", name="code-daily")
    def code_daily(ctx: JobContext) -> None:
        pass

    app.scheduler().sync()
    make_users(app)
    yield app
    app.close()


@pytest.fixture
def browser(hh: Hourhand) -> Iterator[Callable[[str], Browser]]:
    made: list[Browser] = []

    def sign_in(name: str) -> Browser:
        made.append(Browser(hh, name))
        return made[-1]

    yield sign_in
    for each in made:
        each.close()


def nightly(hh: Hourhand, org: str = "org_a") -> Schedule:
    return hh.ops.schedules.create(
        APP, "nightly", "add", "0 3 * * *", args={"a": 1, "b": 2}, org_id=org
    )


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's last form (the confirm form of a diff page)."""
    form = page[page.rindex("<form") :]
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return {name: html.unescape(value) for name, value in found}


def test_the_listing_shows_cron_in_words_next_runs_last_run_and_success_rate(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    made = nightly(hh)
    hh.ops.schedules.trigger(APP, made.id)
    thread = WorkerThread(hh.worker(poll_interval=0.05)).start()
    try:
        wait_until(lambda: hh.ops.schedules.get(APP, made.id).last_status == "completed")
    finally:
        thread.stop()
    page = browser("operator").get("/schedules")
    assert page.status_code == 200
    text = page.text
    assert "nightly" in text and "code-daily" in text
    assert "At 03:00" in text  # the cron in words
    assert text.count("<time datetime=") >= 10  # five next runs of each
    assert "completed" in text and "100%" in text
    code = next(s for s in hh.ops.schedules.list(APP) if s.name == "code-daily")
    # a code schedule: enable/disable and trigger for admins, never an edit
    assert f"/schedules/{code.id}/edit" not in browser("admin").get("/schedules").text
    assert f"/schedules/{made.id}/edit" in text


def test_edit_a_cron_with_the_preview_then_the_diff_then_confirm(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    made = nightly(hh)
    user = browser("org_a")
    form = user.get(f"/schedules/{made.id}/edit")
    assert form.status_code == 200
    assert 'data-cron-preview="cron-preview"' in form.text and "At 03:00" in form.text
    # the fragment the script fetches as you type; a time a DST change skips is marked
    fragment = user.get(
        "/fragments/cron-preview", params={"expr": "30 2 * 3 0", "tz": "Europe/Stockholm"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "dst-moved" in fragment.text and "skipped" in fragment.text
    assert "UTC" in fragment.text and "CET" in fragment.text
    bad = user.get("/fragments/cron-preview", params={"expr": "61 * * * *", "tz": "UTC"})
    assert "flash-error" in bad.text
    fields = {
        "cron": "0 4 * * *",
        "tz": "Europe/Oslo",
        "args": '{"a": 1, "b": 5}',
        "misfire": "skip",
        "misfire_cap": "100",
        "catchup_window": "86400",
        "overlap": "skip",
        "jitter": "0",
    }
    # "Preview" without JavaScript: the form again with the typed expression's times
    preview = user.post(f"/schedules/{made.id}/edit", {**fields, "action": "preview"})
    assert preview.status_code == 200 and "At 04:00" in preview.text
    assert hh.ops.schedules.get(APP, made.id).cron == "0 3 * * *"
    review = user.post(f"/schedules/{made.id}/edit", {**fields, "action": "review"})
    assert review.status_code == 200
    assert "0 3 * * *" in review.text and "0 4 * * *" in review.text  # before and after
    assert "Europe/Oslo" in review.text and "Save" in review.text
    assert hh.ops.schedules.get(APP, made.id).cron == "0 3 * * *"  # nothing saved yet
    confirm = hidden_fields(review.text)
    assert confirm["cron"] == "0 4 * * *" and confirm["csrf"] == user.csrf
    saved = user.post(f"/schedules/{made.id}/edit", {**confirm, "action": "save"})
    assert saved.status_code == 303
    after = hh.ops.schedules.get(APP, made.id)
    assert (after.cron, after.tz, after.args) == ("0 4 * * *", "Europe/Oslo", {"a": 1, "b": 5})
    [entry] = hh.ops.audit.list(APP, target_kind="schedule", action="schedule.update")
    assert entry.actor == "org_a" and entry.details["after"]["cron"] == "0 4 * * *"
    page = user.get(f"/schedules/{made.id}")
    assert "schedule.update" in page.text and "Europe/Oslo" in page.text
    # confirming a review made before that save: refused, nothing changes
    stale = user.post(
        f"/schedules/{made.id}/edit", {**confirm, "cron": "0 5 * * *", "action": "save"}
    )
    assert stale.status_code == 400 and "changed since" in stale.text
    assert hh.ops.schedules.get(APP, made.id).cron == "0 4 * * *"
    wrong = user.post(
        f"/schedules/{made.id}/edit", {**fields, "cron": "61 * * * *", "action": "review"}
    )
    assert wrong.status_code == 400 and "flash-error" in wrong.text
    bad_args = user.post(
        f"/schedules/{made.id}/edit", {**fields, "args": "[1]", "action": "review"}
    )
    assert bad_args.status_code == 400 and "JSON object" in bad_args.text


def test_trigger_enable_and_disable_are_in_the_database_and_the_ledger(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    made = nightly(hh)
    user = browser("org_a")
    triggered = user.post(f"/schedules/{made.id}/trigger")
    assert triggered.status_code == 303
    [job] = hh.ops.jobs.list(APP).jobs
    assert job.schedule_id == made.id and job.org_id == "org_a"
    page = user.get(f"/schedules/{made.id}")
    assert "triggered" in page.text and f"/jobs/{job.id}" in page.text
    assert (
        user.post(f"/schedules/{made.id}/disable", {"back": "list"})
        .headers["location"]
        .endswith("/dashboard/schedules")
    )
    assert not hh.ops.schedules.get(APP, made.id).enabled
    assert user.post(f"/schedules/{made.id}/enable").status_code == 303
    assert hh.ops.schedules.get(APP, made.id).enabled


def test_create_a_schedule_from_a_job_types_form(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    user = browser("org_a")
    picker = user.get("/schedules/new")
    assert picker.status_code == 200 and '<option value="add"' in picker.text
    assert "hourhand.http" not in picker.text  # built-in kinds: cluster admins only
    form = user.get("/schedules/new", params={"type": "add"})
    assert 'name="arg.a"' in form.text and 'name="arg.b"' in form.text
    fields = {
        "type": "add",
        "name": "sums",
        "arg.a": "2",
        "arg.b": "x",
        "cron": "*/15 * * * *",
        "tz": "UTC",
        "misfire": "skip",
        "misfire_cap": "100",
        "catchup_window": "86400",
        "overlap": "allow",
        "jitter": "0",
        "enabled": "on",
        "action": "create",
    }
    refused = user.post("/schedules/new", fields)
    assert refused.status_code == 400 and "whole number" in refused.text
    assert hh.ops.schedules.list(APP) == [s for s in hh.ops.schedules.list(APP) if s.name != "sums"]
    made = user.post("/schedules/new", {**fields, "arg.b": "3"})
    assert made.status_code == 303
    [schedule] = [s for s in hh.ops.schedules.list(APP) if s.name == "sums"]
    assert (schedule.job, schedule.cron, schedule.args) == ("add", "*/15 * * * *", {"a": 2, "b": 3})
    assert (schedule.org_id, schedule.overlap, schedule.enabled) == ("org_a", "allow", True)
    assert made.headers["location"].endswith(f"/schedules/{schedule.id}")


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    made = nightly(hh)
    viewer = browser("viewer")
    for path in ("/schedules", f"/schedules/{made.id}"):
        page = viewer.get(path)
        assert page.status_code == 200 and "nightly" in page.text
        assert "/trigger" not in page.text and "/disable" not in page.text
        assert "/edit" not in page.text and "New schedule" not in page.text
    forged = viewer.post(f"/schedules/{made.id}/trigger")
    assert forged.status_code == 403
    assert viewer.post(f"/schedules/{made.id}/disable").status_code == 403
    assert hh.ops.jobs.list(APP).jobs == [] and hh.ops.schedules.get(APP, made.id).enabled
    # an operator's POST without the CSRF token is refused too
    operator = browser("org_a")
    assert operator.post(f"/schedules/{made.id}/trigger", {"csrf": None}).status_code == 403
    assert operator.post(f"/schedules/{made.id}/trigger", {"csrf": "forged"}).status_code == 403
    assert hh.ops.jobs.list(APP).jobs == []


def test_another_organisations_schedule_is_not_found(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    made = nightly(hh, org="org_a")
    other = browser("org_b")
    assert "nightly" not in other.get("/schedules").text
    for path in (f"/schedules/{made.id}", f"/schedules/{made.id}/edit"):
        assert other.get(path).status_code == 404
    assert other.post(f"/schedules/{made.id}/trigger").status_code == 404
    assert (
        other.post(
            f"/schedules/{made.id}/edit", {"cron": "0 4 * * *", "action": "save"}
        ).status_code
        == 404
    )
    assert hh.ops.jobs.list(APP).jobs == []


def test_a_code_schedule_is_not_edited_here(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    code = next(s for s in hh.ops.schedules.list(APP) if s.name == "code-daily")
    admin = browser("admin")
    form = admin.get(f"/schedules/{code.id}/edit")
    assert form.status_code == 200 and "defined in the code" in form.text
    assert 'value="review"' not in form.text
    fields = {
        "cron": "0 7 * * *",
        "tz": "UTC",
        "misfire": "skip",
        "misfire_cap": "100",
        "catchup_window": "86400",
        "overlap": "skip",
        "jitter": "0",
        "action": "review",
    }
    refused = admin.post(f"/schedules/{code.id}/edit", fields)
    assert refused.status_code == 400 and "change it there" in refused.text
    assert hh.ops.schedules.get(APP, code.id).cron == "0 6 * * *"
    assert admin.post(f"/schedules/{code.id}/disable").status_code == 303
    assert not hh.ops.schedules.get(APP, code.id).enabled


def test_an_operator_triggers_and_disables_a_cluster_schedule_but_does_not_edit_it(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    code = next(s for s in hh.ops.schedules.list(APP) if s.name == "code-daily")
    operator = browser("operator")
    page = operator.get(f"/schedules/{code.id}")
    assert f"/schedules/{code.id}/trigger" in page.text
    assert f"/schedules/{code.id}/edit" not in page.text
    assert operator.post(f"/schedules/{code.id}/trigger").status_code == 303
    assert [j.schedule_id for j in hh.list_jobs()] == [code.id]
    assert operator.post(f"/schedules/{code.id}/disable").status_code == 303
    assert not hh.ops.schedules.get(APP, code.id).enabled
