"""GET /v1/schedules/{id}/runs (the ledger of fire times, a page at a time, organisation
scoped) and the per-schedule last-success metric on /metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hourhand.store import Completion
from tests.web.conftest import Api

T0 = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def fired_schedule(api: Api, who: str = "org_a", minutes: int = 3) -> int:
    """A schedule of org_a (or none) fired by the scheduler at T0, T0+1 ... (injected clock)."""
    body = {"name": "minutely", "job": "add", "cron": "* * * * *", "args": {"a": 1, "b": 2}}
    sid = api.call("post", "/v1/schedules", who, json=body).json()["id"]
    hh = api.hh
    hh.store.update_schedule(sid, {"next_fire_at": T0})
    sched = hh.scheduler()
    for minute in range(minutes):
        sched.tick(T0 + minute * MINUTE + timedelta(seconds=1))  # overlap 'skip': 1 run
    return int(sid)


def test_runs_are_the_ledger_a_page_at_a_time(api: Api) -> None:
    sid = fired_schedule(api)
    first = api.call("get", f"/v1/schedules/{sid}/runs?limit=2", "org_a_viewer")
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(r["fire_time"], r["status"]) for r in page["runs"]] == [
        ("2021-03-01T12:02:00Z", "skipped_overlap"),
        ("2021-03-01T12:01:00Z", "skipped_overlap"),
    ]
    assert page["runs"][0]["job_id"] is None and page["runs"][0]["state"] is None
    assert page["next_cursor"]
    rest = api.call("get", f"/v1/schedules/{sid}/runs?limit=2&cursor={page['next_cursor']}")
    [run] = rest.json()["runs"]
    assert rest.json()["next_cursor"] is None
    assert (run["fire_time"], run["status"], run["state"]) == (
        "2021-03-01T12:00:00Z",
        "enqueued",
        "queued",
    )
    assert run["due_at"] == run["fire_time"] and run["enqueued_at"] == run["recorded_at"]
    assert run["outcome"] is None and run["unlisted"] == 0

    store = api.hh.store
    [job] = store.claim("w", None, 1, lease=30)
    store.complete("w", [Completion(job.id, job.attempt, "3", 0.2)])
    [done] = api.call("get", f"/v1/schedules/{sid}/runs?cursor={page['next_cursor']}").json()[
        "runs"
    ]
    assert (done["state"], done["outcome"]) == ("completed", "completed")
    assert done["finished_at"] is not None


def test_runs_of_another_organisations_schedule_are_not_found(api: Api) -> None:
    sid = fired_schedule(api, minutes=1)
    r = api.call("get", f"/v1/schedules/{sid}/runs", "org_b")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert api.call("get", f"/v1/schedules/{sid}/runs", "admin").status_code == 200
    bad = api.call("get", f"/v1/schedules/{sid}/runs?cursor=nope", "org_a")
    assert bad.status_code == 400 and "bad cursor" in bad.json()["error"]["message"]
    for cursor in ("%C2%B2", "9" * 30):  # a digit Python's int() refuses; too long
        odd = api.call("get", f"/v1/schedules/{sid}/runs?cursor={cursor}", "org_a")
        assert odd.status_code in (400, 422), odd.text
    assert api.call("get", f"/v1/schedules/{sid}/runs?limit=0").status_code == 422


def test_metrics_give_each_schedules_last_success(api: Api) -> None:
    sid = fired_schedule(api, who="admin", minutes=1)
    metrics = api.call("get", "/metrics", "viewer").text
    assert "hourhand_schedule_last_success_timestamp_seconds{" not in metrics  # none yet
    store = api.hh.store
    [job] = store.claim("w", None, 1, lease=30)
    store.complete("w", [Completion(job.id, job.attempt, "3", 0.2)])
    finished = api.hh.get_job(job.id).finished_at
    assert finished is not None and job.schedule_id == sid
    metrics = api.call("get", "/metrics", "viewer").text
    found = re.search(
        r'^hourhand_schedule_last_success_timestamp_seconds\{schedule="minutely"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    assert found, metrics
    assert abs(float(found[1]) - finished.timestamp()) < 1e-3
    # an organisation's schedule of the same name is another series
    other = fired_schedule(api, who="org_a", minutes=1)
    [job] = store.claim("w", None, 1, lease=30)
    store.complete("w", [Completion(job.id, job.attempt, "3", 0.2)])
    assert job.schedule_id == other
    metrics = api.call("get", "/metrics", "viewer").text
    assert 'hourhand_schedule_last_success_timestamp_seconds{org="org_a",schedule="minutely"}' in (
        metrics
    )
