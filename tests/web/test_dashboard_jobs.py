"""The dashboard's jobs pages on both stores, through a TestClient signed in as users made
with ``hh.ops.users``: filters and pages, a job's page, retry, cancel of a running job,
bulk actions with their confirm page, run now from the schema form, search; a viewer sees
no action and is refused a forged one; an organisation's user sees only its jobs. Each
action is checked in the database afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from hourhand import Hourhand, JobState
from hourhand.errors import JobNotFound
from hourhand.ops import Actor
from hourhand.web.dashboard import jobs as jobs_pages
from tests.apps.web_app import define
from tests.conftest import WorkerThread, wait_until

PASSWORD = "correct horse battery"
USERS = {  # name -> (role, org)
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "org_a": ("operator", "org_a"),
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
JOB_LINK = re.compile(r'<td><a href="/dashboard/jobs/(\d+)">')


class Browser:
    """One signed-in user's client: GETs, and POSTs carrying the session's CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kw: Any) -> httpx2.Response:
        response = self.client.get("/dashboard" + path, **kw)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx2.Response:
        if not self.csrf:
            self.get("/jobs")
        return self.client.post("/dashboard" + path, data={**(data or {}), "csrf": self.csrf}, **kw)

    def ids(self, path: str) -> list[int]:
        """The job ids a listing page links in its rows, in order."""
        response = self.get(path)
        assert response.status_code == 200, response.text
        return [int(i) for i in JOB_LINK.findall(response.text)]


@dataclass
class Dash:
    hh: Hourhand
    app: Any
    browsers: dict[str, Browser] = field(default_factory=dict)

    def as_(self, who: str) -> Browser:
        """A client signed in through /login as the user ``who`` (made on first use)."""
        if who not in self.browsers:
            role, org = USERS[who]
            self.hh.ops.users.create(Actor.app("tests"), who, role, PASSWORD, org)
            client = TestClient(self.app, raise_server_exceptions=False)
            form = client.get("/dashboard/login")
            token = CSRF.search(form.text)
            assert token, form.text
            signed_in = client.post(
                "/dashboard/login",
                data={"name": who, "org": org or "", "password": PASSWORD, "csrf": token.group(1)},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303, signed_in.text
            self.browsers[who] = Browser(client)
        return self.browsers[who]

    def run_until(self, done: Callable[[], bool]) -> None:
        """A worker runs jobs until ``done()``; it is stopped before this returns."""
        worker = WorkerThread(self.hh.worker(poll_interval=0.05)).start()
        try:
            wait_until(done, timeout=30)
        finally:
            worker.stop()

    def failed_jobs(self, count: int) -> list[int]:
        ids = [self.hh.enqueue("broken") for _ in range(count)]
        self.run_until(lambda: all(self.hh.get_job(i).state == JobState.FAILED for i in ids))
        return ids


@pytest.fixture
def dash(store_url: str) -> Iterator[Dash]:
    hh = define(Hourhand(store_url))
    yield Dash(hh, hh.asgi_app())
    hh.close()


def test_filters_list_matching_jobs_newest_first_a_page_at_a_time(
    dash: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    adds = [dash.hh.enqueue("add", {"a": i, "b": 1}) for i in range(3)]
    mail = dash.hh.enqueue("mail", {"to": "ana@example.com"})
    cancelled = dash.hh.enqueue("add", {"a": 9, "b": 9})
    dash.hh.cancel(cancelled)
    ops = dash.as_("operator")
    assert ops.ids("/jobs") == [cancelled, mail, *reversed(adds)]
    assert ops.ids("/jobs?type=mail") == [mail]
    assert ops.ids("/jobs?queue=default&state=queued") == list(reversed(adds))
    assert ops.ids("/jobs?state=cancelled&type=") == [cancelled]
    assert ops.ids("/jobs?created_after=2999-01-01T00:00") == []
    assert ops.ids("/jobs?created_before=2999-01-01T00:00&type=add&state=queued") == list(
        reversed(adds)
    )
    bad = ops.get("/jobs?state=lost")
    assert bad.status_code == 400 and "unknown state" in bad.text
    for edge in (
        "created_after=9999-12-31T23:59:59-05:00",
        "created_before=0001-01-01T00:00+05:00",
    ):
        out_of_range = ops.get(f"/jobs?{edge}")  # a time that is no time in UTC
        assert out_of_range.status_code == 400 and "is not a time" in out_of_range.text

    monkeypatch.setattr(jobs_pages, "PAGE_SIZE", 2)
    first = ops.get("/jobs?type=add")
    assert [int(i) for i in JOB_LINK.findall(first.text)] == [cancelled, adds[2]]
    cursor = re.search(r'href="(/dashboard/jobs\?[^"]*cursor=\d+)" rel="next"', first.text)
    assert cursor and "type=add" in cursor.group(1)
    second = ops.ids(cursor.group(1).removeprefix("/dashboard").replace("&amp;", "&"))
    assert second == [adds[1], adds[0]]


def test_a_job_page_shows_args_result_attempts_and_escapes_them(dash: Dash) -> None:
    done = dash.hh.enqueue("mail", {"to": "<script>alert(1)</script>"})
    broken = dash.hh.enqueue("broken")
    dash.run_until(
        lambda: (
            dash.hh.get_job(done).state == JobState.COMPLETED
            and dash.hh.get_job(broken).state == JobState.FAILED
        )
    )
    viewer = dash.as_("viewer")
    page = viewer.get(f"/jobs/{done}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # args, pretty and escaped
    assert "sent to &lt;script&gt;" in page.text  # the result
    assert f'data-refresh="/dashboard/fragments/jobs/{done}/progress"' in page.text
    failed = viewer.get(f"/jobs/{broken}")
    assert "the report has no rows" in failed.text
    assert re.search(r"<details>\s*<summary>Traceback</summary>\s*<pre>Traceback", failed.text)
    fragment = viewer.get(f"/fragments/jobs/{broken}/progress")
    assert fragment.status_code == 200 and "state-failed" in fragment.text
    assert "<html" not in fragment.text
    assert viewer.get("/jobs/987654").status_code == 404


def test_retry_a_failed_job_from_its_page(dash: Dash) -> None:
    (job_id,) = dash.failed_jobs(1)
    ops = dash.as_("operator")
    page = ops.get(f"/jobs/{job_id}")
    assert f'action="/dashboard/jobs/{job_id}/retry"' in page.text
    response = ops.post(f"/jobs/{job_id}/retry", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/jobs/{job_id}"
    assert dash.hh.get_job(job_id).state == JobState.QUEUED
    shown = ops.get(f"/jobs/{job_id}")
    assert f"Job {job_id} retried" in shown.text  # the flash message
    again = ops.post(f"/jobs/{job_id}/delete")  # a queued job is not deleted
    assert "cancel it first" in again.text
    assert dash.hh.get_job(job_id).state == JobState.QUEUED


def test_cancel_a_running_job(dash: Dash) -> None:
    job_id = dash.hh.enqueue("slow", {"seconds": 60})
    worker = WorkerThread(dash.hh.worker(poll_interval=0.05)).start()
    try:
        wait_until(lambda: dash.hh.get_job(job_id).state == JobState.RUNNING)
        ops = dash.as_("operator")
        page = ops.get(f"/jobs/{job_id}")
        assert f'action="/dashboard/jobs/{job_id}/cancel"' in page.text
        response = ops.post(f"/jobs/{job_id}/cancel")
        assert response.status_code == 200
        assert "its worker has been asked to stop it" in response.text
        wait_until(lambda: dash.hh.get_job(job_id).state == JobState.CANCELLED)
    finally:
        worker.stop()
    assert [a.outcome for a in dash.hh.attempts(job_id)] == ["cancelled"]


def test_bulk_redrive_of_the_filter_confirms_the_count_then_retries(dash: Dash) -> None:
    failed = dash.failed_jobs(3)
    kept = dash.hh.enqueue("add", {"a": 1, "b": 2})
    ops = dash.as_("operator")
    confirm = ops.post("/jobs/bulk", {"do": "retry:filter", "state": "failed"})
    assert confirm.status_code == 200
    assert re.search(r"<strong>3</strong> jobs match the filter", confirm.text)
    assert set(map(int, JOB_LINK.findall(confirm.text))) == set(failed)  # the sample
    assert {dash.hh.get_job(i).state for i in failed} == {JobState.FAILED}  # a dry run
    assert 'name="confirm" value="1"' in confirm.text
    done = ops.post(
        "/jobs/bulk",
        {"do": "retry:filter", "state": "failed", "confirm": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/dashboard/jobs?state=failed"
    assert {dash.hh.get_job(i).state for i in failed} == {JobState.QUEUED}
    assert dash.hh.get_job(kept).state == JobState.QUEUED
    assert "Retried 3 jobs of the filter." in ops.get("/jobs?state=failed").text
    nothing = ops.post("/jobs/bulk", {"do": "retry:filter", "state": "failed"})
    assert "nothing matches" in nothing.text


def test_a_bulk_action_over_more_jobs_than_one_run_changes_says_so_before_and_after(
    dash: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_pages, "MAX_BULK", 2)
    queued = [dash.hh.enqueue("add", {"a": i, "b": 1}) for i in range(3)]
    ops = dash.as_("operator")
    confirm = ops.post("/jobs/bulk", {"do": "cancel:filter", "state": "queued"})
    assert re.search(r"<strong>3</strong> jobs match the filter", confirm.text)
    assert "the newest <strong>2</strong> of them now" in confirm.text
    assert "Yes, cancel the newest 2<" in confirm.text
    done = ops.post(
        "/jobs/bulk",
        {"do": "cancel:filter", "state": "queued", "confirm": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    states = [dash.hh.get_job(i).state for i in queued]
    assert states == [JobState.QUEUED, JobState.CANCELLED, JobState.CANCELLED]  # the newest 2
    assert "1 more match: run it again" in ops.get("/jobs?state=queued").text


def test_bulk_cancel_then_delete_of_the_selection(dash: Dash) -> None:
    ids = [dash.hh.enqueue("add", {"a": i, "b": 0}) for i in range(4)]
    chosen, left = ids[:3], ids[3]
    ops = dash.as_("operator")
    selection = {"do": "cancel:selected", "ids": [str(i) for i in chosen], "state": "queued"}
    confirm = ops.post("/jobs/bulk", selection)
    assert "the <strong>3</strong> selected jobs" in confirm.text
    assert {dash.hh.get_job(i).state for i in ids} == {JobState.QUEUED}
    ops.post("/jobs/bulk", {**selection, "confirm": "1"})
    assert {dash.hh.get_job(i).state for i in chosen} == {JobState.CANCELLED}
    assert dash.hh.get_job(left).state == JobState.QUEUED
    deleting = {"do": "delete:selected", "ids": [str(i) for i in [*chosen, left]], "confirm": "1"}
    shown = ops.post("/jobs/bulk", deleting)
    assert "Deleted 3 jobs." in shown.text and "1 job not" in shown.text
    for job_id in chosen:
        with pytest.raises(JobNotFound):
            dash.hh.get_job(job_id)
    assert dash.hh.get_job(left).state == JobState.QUEUED
    nothing = ops.post("/jobs/bulk", {"do": "cancel:selected", "confirm": "1"})
    assert "Select jobs first" in nothing.text


def test_run_now_builds_the_form_from_the_schema_and_enqueues(dash: Dash) -> None:
    ops = dash.as_("operator")
    form = ops.get("/run?type=add")
    assert form.status_code == 200
    for name in ("arg.a", "arg.b"):
        assert f'name="{name}"' in form.text
    assert form.text.count(">required</span>") == 2
    assert 'placeholder="0.1"' in ops.get("/run?type=slow").text  # a default shown
    wrong = ops.post("/run", {"type": "add", "arg.a": "two", "arg.b": "3"})
    assert wrong.status_code == 400
    assert "a: a whole number" in wrong.text and 'value="two"' in wrong.text  # kept
    assert dash.hh.ops.jobs.list(Actor.app()).jobs == []
    made = ops.post("/run", {"type": "add", "arg.a": "2", "arg.b": "3", "priority": "7"})
    assert made.status_code == 200
    job_id = int(str(made.url).rsplit("/", 1)[1])
    job = dash.hh.get_job(job_id)
    assert (job.name, job.args, job.priority, job.state) == ("add", {"a": 2, "b": 3}, 7, "queued")
    default = ops.post("/run", {"type": "slow", "arg.seconds": ""}, follow_redirects=False)
    assert default.status_code == 303
    slow_id = int(default.headers["location"].rsplit("/", 1)[1])
    assert dash.hh.get_job(slow_id).args == {}
    refused = ops.post("/run", {"type": "hourhand.http", "arg.url": "http://example.com"})
    assert refused.status_code == 400  # the built-in kinds are for cluster admins
    assert "hourhand.http" not in ops.get("/run").text


def test_search_jumps_to_an_id_and_finds_text_in_args(dash: Dash) -> None:
    wanted = dash.hh.enqueue("mail", {"to": "invoice-4711@example.com"})
    other = dash.hh.enqueue("mail", {"to": "someone@example.com"})
    viewer = dash.as_("viewer")
    jump = viewer.get(f"/search?q={other}", follow_redirects=False)
    assert jump.status_code == 303 and jump.headers["location"] == f"/dashboard/jobs/{other}"
    assert viewer.ids("/search?q=invoice-47") == [wanted]
    assert "No recent job" in viewer.get("/search?q=nothing-like-it").text


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(dash: Dash) -> None:
    (failed,) = dash.failed_jobs(1)
    queued = dash.hh.enqueue("add", {"a": 1, "b": 1})
    viewer = dash.as_("viewer")
    listing = viewer.get("/jobs")
    assert 'name="ids"' not in listing.text and 'value="retry:filter"' not in listing.text
    page = viewer.get(f"/jobs/{failed}")
    assert "/retry" not in page.text and "/copy" not in page.text and "/delete" not in page.text
    for path in (f"/jobs/{failed}/retry", f"/jobs/{queued}/cancel", f"/jobs/{failed}/delete"):
        assert viewer.post(path).status_code == 403
    bulk = viewer.post("/jobs/bulk", {"do": "retry:filter", "state": "failed", "confirm": "1"})
    assert bulk.status_code == 403
    assert viewer.post("/run", {"type": "add", "arg.a": "1", "arg.b": "1"}).status_code == 403
    assert viewer.get("/run").status_code == 403
    assert dash.hh.get_job(failed).state == JobState.FAILED
    assert dash.hh.get_job(queued).state == JobState.QUEUED
    assert len(dash.hh.ops.jobs.list(Actor.app()).jobs) == 2


def test_an_org_user_sees_only_its_organisation(dash: Dash) -> None:
    ours = dash.hh.enqueue("mail", {"to": "a@example.com"}, org_id="org_a")
    theirs = dash.hh.enqueue("mail", {"to": "b@example.com"}, org_id="org_b")
    system = dash.hh.enqueue("mail", {"to": "c@example.com"})
    org_a = dash.as_("org_a")
    assert org_a.ids("/jobs") == [ours]
    assert org_a.ids("/jobs?org=org_b") == []
    assert org_a.ids("/search?q=example.com") == [ours]
    for path in (f"/jobs/{theirs}", f"/fragments/jobs/{theirs}/progress", f"/jobs/{system}"):
        assert org_a.get(path).status_code == 404
    assert org_a.post(f"/jobs/{theirs}/cancel").status_code == 404
    assert org_a.post(f"/jobs/{theirs}/copy").status_code == 404
    bulk = {"do": "cancel:selected", "ids": [str(ours), str(theirs)]}
    assert "the <strong>1</strong> selected job" in org_a.post("/jobs/bulk", bulk).text
    org_a.post("/jobs/bulk", {"do": "cancel:filter", "state": "queued", "confirm": "1"})
    assert dash.hh.get_job(ours).state == JobState.CANCELLED
    assert dash.hh.get_job(theirs).state == JobState.QUEUED
    assert dash.hh.get_job(system).state == JobState.QUEUED
    copied = org_a.post(f"/jobs/{ours}/copy", follow_redirects=False)
    copy_id = int(copied.headers["location"].rsplit("/", 1)[1])
    assert dash.hh.get_job(copy_id).org_id == "org_a"
    assert dash.hh.get_job(copy_id).args == {"to": "a@example.com"}
