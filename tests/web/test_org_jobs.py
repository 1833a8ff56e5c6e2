"""/v1/orgs/{org}/jobs/{id} and its /cancel: one organisation's job, shown and cancelled
through the organisation's path; any other job there is not found, whoever asks."""

from __future__ import annotations

from tests.web.conftest import Api

ADD = {"type": "add", "args": {"a": 2, "b": 3}}
LATER = {**ADD, "delay": 3600}


def test_an_orgs_job_is_shown_and_cancelled_under_its_path(api: Api) -> None:
    job = api.call("post", "/v1/orgs/org_a/jobs", "org_a", json=LATER).json()
    shown = api.call("get", f"/v1/orgs/org_a/jobs/{job['id']}", "org_a")
    assert shown.status_code == 200, shown.text
    assert (shown.json()["org_id"], shown.json()["state"]) == ("org_a", "scheduled")
    assert shown.json()["attempts"] == []
    r = api.call("post", f"/v1/orgs/org_a/jobs/{job['id']}/cancel", "org_a")
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    assert api.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "cancelled"
    # a cluster key reads and acts in any organisation's path
    other = api.call("post", "/v1/orgs/org_a/jobs", "org_a", json=LATER).json()
    r = api.call("post", f"/v1/orgs/org_a/jobs/{other['id']}/cancel", "operator")
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")


def test_another_orgs_job_or_a_system_job_is_not_found_under_an_orgs_path(api: Api) -> None:
    theirs = api.call("post", "/v1/orgs/org_b/jobs", "org_b", json=LATER).json()["id"]
    system = api.call("post", "/v1/jobs", "admin", json=LATER).json()["id"]
    for who in ("org_a", "org_a_admin", "admin", "operator"):
        for job_id in (theirs, system):
            for method, path in (
                ("get", f"/v1/orgs/org_a/jobs/{job_id}"),
                ("post", f"/v1/orgs/org_a/jobs/{job_id}/cancel"),
            ):
                r = api.call(method, path, who)
                assert r.status_code == 404, (who, path, r.text)
                assert r.json()["error"]["code"] == "not_found"
    # org_a's key in org_b's path: not found even for org_b's own job
    assert api.call("get", f"/v1/orgs/org_b/jobs/{theirs}", "org_a").status_code == 404
    assert api.call("get", f"/v1/jobs/{theirs}").json()["state"] == "scheduled"
    assert api.call("get", f"/v1/jobs/{system}").json()["state"] == "scheduled"


def test_a_viewer_reads_but_does_not_cancel_under_an_orgs_path(api: Api) -> None:
    job = api.call("post", "/v1/orgs/org_a/jobs", "org_a", json=LATER).json()
    assert api.call("get", f"/v1/orgs/org_a/jobs/{job['id']}", "org_a_viewer").status_code == 200
    r = api.call("post", f"/v1/orgs/org_a/jobs/{job['id']}/cancel", "org_a_viewer")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert api.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "scheduled"


def test_an_orgs_schedule_made_through_the_api_runs_for_its_user(api: Api) -> None:
    body = {"name": "nightly", "job": "add", "cron": "0 2 * * *", "args": {"a": 1, "b": 1}}
    r = api.call("post", "/v1/schedules", "org_a", json={**body, "created_by": "u_7"})
    assert r.status_code == 201, r.text
    assert (r.json()["org_id"], r.json()["created_by"]) == ("org_a", "u_7")
    job = api.call("post", f"/v1/schedules/{r.json()['id']}/trigger", "org_a").json()
    assert (job["org_id"], job["created_by"]) == ("org_a", "u_7")
