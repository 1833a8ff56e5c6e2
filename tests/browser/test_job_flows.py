"""The jobs pages in Chromium, on both stores (needs the pages of branch dash-jobs: /jobs,
/jobs/{id} and its retry and cancel forms): filter the list, open a job, retry a failed
one, cancel a running one (run by a real worker, which stops it); each checked in the
database afterwards."""

from __future__ import annotations

from collections.abc import Callable

from hourhand.jobs import JobState
from hourhand.ops import Actor
from tests.browser import seed
from tests.browser.conftest import Live, Tab
from tests.conftest import WorkerThread, wait_until


def audited(live: Live, action: str, job_id: int) -> list[str]:
    """Who the audit log says did ``action`` to the job."""
    entries = live.hh.ops.audit.list(Actor.app("check"), "job", job_id, action)
    return [f"{e.actor_kind}:{e.actor}" for e in entries]


def test_filter_jobs_by_state_and_open_one(live: Live, tab: Callable[..., Tab]) -> None:
    failed = seed.job(live.hh, JobState.FAILED, "emails:send", {"to": "filter@example.com"})
    done = seed.job(live.hh, JobState.COMPLETED, "emails:send", {"to": "done@example.com"})
    t = tab("viewer")
    t.goto("/jobs")
    t.page.select_option("select[name=state]", "failed")
    t.page.click("form.filters button[type=submit]")
    t.page.wait_for_url(lambda url: "state=failed" in url)
    table = t.page.locator("table")
    assert table.locator(f"a[href$='/jobs/{failed}']").count() >= 1
    assert table.locator(f"a[href$='/jobs/{done}']").count() == 0
    for state in table.locator("tbody tr").all_inner_texts():
        assert "failed" in state
    table.locator(f"a[href$='/jobs/{failed}']").first.click()
    t.page.wait_for_url(lambda url: url.endswith(f"/jobs/{failed}"))
    text = t.page.locator("main").inner_text()
    assert "ValueError: the report has no rows" in text and "filter@example.com" in text
    assert t.page.locator("form[action$='/retry'] button").count() == 0  # a viewer


def test_retry_a_failed_job(live: Live, tab: Callable[..., Tab]) -> None:
    job_id = seed.job(live.hh, JobState.FAILED, "reports:generate", {"report_id": "retry-me"})
    assert live.hh.get_job(job_id).state == JobState.FAILED
    t = tab("operator", dialogs=True)
    t.goto(f"/jobs/{job_id}")
    t.page.click(f"form[action$='/jobs/{job_id}/retry'] button")
    t.page.wait_for_selector(".flash")
    assert "retried" in t.page.locator(".flash").inner_text()
    job = live.hh.get_job(job_id)
    assert job.state == JobState.QUEUED and job.error is not None  # the last error stays
    assert audited(live, "job.retry", job_id) == ["user:operator"]


def test_cancel_a_running_job(live: Live, tab: Callable[..., Tab]) -> None:
    """A worker runs a long job; cancelled from its page, the worker stops it."""
    hh = live.hh
    worker = WorkerThread(hh.worker(queues=["slow"], poll_interval=0.2, concurrency=2)).start()
    try:
        job_id = int(hh.enqueue("sleep", {"seconds": 120}))
        wait_until(lambda: hh.get_job(job_id).state == JobState.RUNNING, what="running")
        t = tab("operator", dialogs=True)
        t.goto(f"/jobs/{job_id}")
        t.page.click(f"form[action$='/jobs/{job_id}/cancel'] button")
        t.page.wait_for_selector(".flash")
        assert "asked to stop" in t.page.locator(".flash").inner_text()
        job = wait_until(
            lambda: (j := hh.get_job(job_id)).state == JobState.CANCELLED and j,
            what="the worker to stop the job",
        )
        assert job.finished_at is not None
        [attempt] = hh.store.list_attempts(job_id)
        assert attempt.outcome == "cancelled"
        assert audited(live, "job.cancel", job_id) == ["user:operator"]
    finally:
        worker.stop()
