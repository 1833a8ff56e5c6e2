"""The overview, queues and audit pages, on both stores: what each role sees, what it
may do, organisation scope, and the actions checked in the database."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hourhand.ops import Actor
from tests.conftest import wait_until
from tests.web.dash import PREFIX, Dash, csrf

ADMIN = Actor.app("tests")
STATE_COUNT = r'class="value">([\d,]+)</span>\s*<span class="label"><span class="badge state-(\w+)"'


def test_the_overview_shows_counts_charts_queues_workers_and_next_runs(
    dash: Dash, app_workers: Callable[..., Any]
) -> None:
    hh = dash.hh
    ids = [hh.enqueue("add", {"a": 1, "b": i}) for i in range(3)]
    failed = hh.enqueue("broken", {})
    hh.ops.schedules.create(ADMIN, "nightly-sums", "add", "0 3 * * *", args={"a": 1, "b": 2})
    worker = app_workers(hh, poll_interval=0.2)
    wait_until(lambda: all(hh.get_job(i).state == "completed" for i in ids), timeout=30)
    wait_until(lambda: hh.get_job(failed).state == "failed", timeout=30)
    wait_until(lambda: any(p.kind == "worker" for p in hh.ops.workers.list(ADMIN)), timeout=30)
    client = dash.client("viewer")
    page = client.get(f"{PREFIX}/")
    assert page.status_code == 200
    text = page.text
    found = re.findall(STATE_COUNT, text)
    by_state = {state: int(n.replace(",", "")) for n, state in found}
    assert by_state["completed"] == 3 and by_state["failed"] == 1
    assert text.count('<svg class="chart"') == 2
    assert "3 completed" in text and "1 failed" in text  # the charts' legends
    assert ">default</a>" in text  # the queue
    assert "nightly-sums" in text  # the next scheduled run
    assert "worker" in text and str(worker.worker.id).split(":")[1] in text  # its pid
    fragment = client.get(f"{PREFIX}/fragments/overview")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-refresh="/dashboard/fragments/overview"' in text


def test_an_admin_pauses_and_resumes_a_queue(dash: Dash) -> None:
    client = dash.client("admin")
    page = client.get(f"{PREFIX}/queues")
    assert 'action="/dashboard/queues/mail/pause"' in page.text
    done = client.post(f"{PREFIX}/queues/mail/pause", data={"csrf": csrf(page)})
    assert done.status_code == 303 and done.headers["location"] == f"{PREFIX}/queues"
    assert dash.hh.queue("mail").paused  # in the database
    after = client.get(f"{PREFIX}/queues")
    assert "Queue mail paused" in after.text  # the flash message, once
    assert "Queue mail paused" not in client.get(f"{PREFIX}/queues").text
    assert 'action="/dashboard/queues/mail/resume"' in after.text
    client.post(f"{PREFIX}/queues/mail/resume", data={"csrf": csrf(after)})
    assert not dash.hh.queue("mail").paused
    actions = [e.action for e in dash.hh.ops.audit.list(ADMIN, target_kind="queue")]
    assert actions == ["queue.resume", "queue.pause"]
    entry = dash.hh.ops.audit.list(ADMIN, target_kind="queue")[0]
    assert (entry.actor_kind, entry.actor) == ("user", "admin")


def test_a_viewer_sees_no_action_buttons_and_a_forged_post_is_refused(dash: Dash) -> None:
    for who in ("viewer", "operator"):  # pausing a queue is for admins
        client = dash.client(who)
        page = client.get(f"{PREFIX}/queues")
        assert page.status_code == 200 and ">mail</a>" in page.text
        assert "/pause" not in page.text and "/resume" not in page.text
        forged = client.post(f"{PREFIX}/queues/mail/pause", data={"csrf": csrf(page)})
        assert forged.status_code == 403, who
        assert not dash.hh.queue("mail").paused
    viewer_page = dash.client("viewer").get(f"{PREFIX}/")
    assert "Audit" not in viewer_page.text and "Run now" not in viewer_page.text


def test_an_org_user_sees_only_its_org(dash: Dash) -> None:
    hh = dash.hh
    hh.ops.schedules.create(
        ADMIN, "a-report", "add", "0 4 * * *", args={"a": 1, "b": 1}, org_id="org_a"
    )
    hh.ops.schedules.create(
        ADMIN, "b-report", "add", "0 5 * * *", args={"a": 1, "b": 1}, org_id="org_b"
    )
    for _ in range(2):
        hh.enqueue("add", {"a": 1, "b": 2}, org_id="org_a")
    for _ in range(5):
        hh.enqueue("add", {"a": 1, "b": 2}, org_id="org_b")
    hh.ops.queues.pause(ADMIN, "paused-by-admin")
    client = dash.client("org_a")
    page = client.get(f"{PREFIX}/")
    assert page.status_code == 200
    assert "a-report" in page.text and "b-report" not in page.text
    assert dict((s, n) for n, s in re.findall(STATE_COUNT, page.text))["queued"] == "2"
    assert "paused-by-admin" not in page.text and "<svg" not in page.text  # the cluster's
    assert client.get(f"{PREFIX}/queues").status_code == 403
    assert 'href="/dashboard/queues"' not in page.text


def test_the_audit_page_is_for_admins_and_scoped_to_their_org(dash: Dash) -> None:
    hh = dash.hh
    hh.ops.audit.record(ADMIN, "job.retry", "job", 7, org_id="org_a")
    hh.ops.audit.record(ADMIN, "job.retry", "job", 8, org_id="org_b")
    hh.ops.audit.record(ADMIN, "<script>alert(1)</script>", "queue", "q<b>", org_id=None)
    page = dash.client("admin").get(f"{PREFIX}/audit")
    assert page.status_code == 200
    assert 'href="/dashboard/jobs/7"' in page.text and 'href="/dashboard/jobs/8"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "q&lt;b&gt;" in page.text
    filtered = dash.client("admin").get(f"{PREFIX}/audit", params={"target_id": "7"})
    assert "jobs/7" in filtered.text and "jobs/8" not in filtered.text
    org_admin = dash.client("org_a_admin").get(f"{PREFIX}/audit")
    assert org_admin.status_code == 200
    assert "jobs/7" in org_admin.text and "jobs/8" not in org_admin.text
    for who in ("operator", "viewer"):
        assert dash.client(who).get(f"{PREFIX}/audit").status_code == 403


def test_names_are_escaped_on_the_queues_page(dash: Dash) -> None:
    name = '"><script>alert(1)</script>'
    dash.hh.ops.queues.pause(ADMIN, name)
    client = dash.client("admin")
    page = client.get(f"{PREFIX}/queues")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    action = re.search(r'action="(/dashboard/queues/[^"]*/resume)"', page.text)
    assert action is not None
    done = client.post(action.group(1).replace("&amp;", "&"), data={"csrf": csrf(page)})
    assert done.status_code == 303
    assert not dash.hh.queue(name).paused
