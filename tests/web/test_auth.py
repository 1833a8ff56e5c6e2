"""Every /v1 route of the OpenAPI document needs a valid key; roles and organisations are
enforced for every verb."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Api

SAMPLE_PATH_VALUES = {
    "job_id": "1",
    "schedule_id": "1",
    "key_id": "1",
    "name": "default",
    "alert_id": "1",
}
SCHEDULE = {"name": "s", "job": "add", "cron": "* * * * *", "args": {"a": 1, "b": 2}}
# the operations an organisation's key or a viewer may not do
BODIES = {
    ("post", "/v1/jobs"): {"type": "add", "args": {"a": 1, "b": 2}},
    ("post", "/v1/orgs/{org}/jobs"): {"type": "add", "args": {"a": 1, "b": 2}},
    ("post", "/v1/schedules"): SCHEDULE,
    ("patch", "/v1/schedules/{schedule_id}"): {"enabled": False},
    ("post", "/v1/keys"): {"name": "k", "role": "viewer"},
    ("post", "/v1/jobs/retry"): {},
    ("post", "/v1/jobs/cancel"): {"state": "queued"},
    ("post", "/v1/alerts/rules"): {"name": "r", "kind": "dead_letter"},
    ("post", "/v1/alerts/test"): {"channel": "ops"},
    ("post", "/v1/alerts/{alert_id}/silence"): {"seconds": 60},
}


def v1_operations(api: Api) -> list[tuple[str, str]]:
    doc = api.client.get("/openapi.json").json()
    found = [
        (method, path)
        for path, item in doc["paths"].items()
        if path.startswith("/v1/")
        for method in item
    ]
    assert len(found) > 25
    return found


def concrete(path: str, ids: dict[str, str]) -> str:
    values = {**SAMPLE_PATH_VALUES, "org": "org_a", **ids}
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)


def request(
    api: Api, method: str, path: str, who: str | None, ids: dict[str, str] | None = None, **kw: Any
) -> Any:
    body = BODIES.get((method, path))
    url = concrete(path, ids or {})
    if method in ("post", "patch"):
        kw.setdefault("json", body if body is not None else {})
    if path == "/v1/cron/preview":
        url += "?expr=*+*+*+*+*"
    if path == "/v1/jobs/search":
        url += "?q=x"
    return api.call(method, url, who, **kw)


def test_every_v1_route_needs_a_valid_key(api: Api) -> None:
    for method, path in v1_operations(api):
        for headers in ({}, api.auth("revoked"), {"Authorization": "Bearer nonsense"}):
            r = request(api, method, path, None, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"]["code"] == "unauthenticated"
        r = request(api, method, path, None, headers={"Authorization": "Basic dTpw"})
        assert r.status_code == 401, (method, path)


def test_metrics_needs_a_key_unless_public(api: Api) -> None:
    assert api.call("get", "/metrics", None).status_code == 401
    assert api.call("get", "/metrics", "revoked").status_code == 401
    r = api.call("get", "/metrics", "viewer")
    assert r.status_code == 200
    assert "hourhand_job_queue_length" in r.text
    assert api.call("get", "/metrics", "org_a").status_code == 403


def test_health_needs_no_key(api: Api) -> None:
    assert api.call("get", "/health", None).json() == {"status": "ok"}
    r = api.call("get", "/health/jobs", None)
    assert r.status_code in (200, 503)
    assert all(set(check) == {"status"} for check in r.json()["checks"].values())
    detailed = api.call("get", "/health/jobs", "viewer").json()
    assert all("description" in check for check in detailed["checks"].values())
    # an organisation's key: the statuses only (the numbers are every organisation's)
    org = api.call("get", "/health/jobs", "org_a_admin").json()
    assert all(set(check) == {"status"} for check in org["checks"].values())


def test_queues_are_for_cluster_keys(api: Api) -> None:
    assert api.call("get", "/v1/queues", "viewer").status_code == 200
    assert api.call("get", "/v1/queues", "org_a_admin").status_code == 403
    assert api.call("post", "/v1/queues/default/pause", "org_a_admin").status_code == 403
    assert api.call("post", "/v1/queues/default/pause", "admin").json()["paused"] is True


def test_a_viewer_gets_403_on_every_action(api: Api) -> None:
    job = api.call("post", "/v1/jobs", json={"type": "add", "args": {"a": 1, "b": 2}}).json()
    sched = api.call("post", "/v1/schedules", json=SCHEDULE).json()
    ids = {"job_id": str(job["id"]), "schedule_id": str(sched["id"])}
    for method, path in v1_operations(api):
        if method == "get" or path in ("/v1/jobs/retry", "/v1/jobs/cancel"):
            continue  # reads; bulk actions are checked with dry_run below
        for who in ("viewer", "org_a_viewer"):
            r = request(api, method, path, who, ids)
            assert r.status_code in (403, 404), (who, method, path, r.text)
            if who == "viewer":
                assert r.status_code == 403, (method, path, r.text)
                assert r.json()["error"]["code"] == "forbidden"
    for path in ("/v1/jobs/retry", "/v1/jobs/cancel"):
        body = {"state": "queued"} if path.endswith("cancel") else {}
        assert api.call("post", path, "viewer", json=body).status_code == 403
        dry = api.call("post", path, "viewer", json={**body, "dry_run": True})
        assert dry.status_code == 200
    assert api.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "queued"


@pytest.mark.parametrize("who", ["org_a", "org_a_admin"])
def test_another_orgs_ids_are_not_found_for_every_verb(api: Api, who: str) -> None:
    job = api.call(
        "post", "/v1/orgs/org_b/jobs", "org_b", json={"type": "add", "args": {"a": 1, "b": 2}}
    ).json()
    sched = api.call(
        "post",
        "/v1/schedules",
        "org_b",
        json={"name": "b-sched", "job": "add", "cron": "0 * * * *", "args": {"a": 1, "b": 1}},
    ).json()
    assert job["org_id"] == sched["org_id"] == "org_b"
    ids = {"job_id": str(job["id"]), "schedule_id": str(sched["id"]), "org": "org_b"}
    for method, path in v1_operations(api):
        if "{job_id}" in path or "{schedule_id}" in path or "/orgs/" in path:
            r = request(api, method, path, who, ids)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["code"] == "not_found"
    # nothing was changed
    assert api.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "queued"
    assert api.call("get", f"/v1/schedules/{sched['id']}").json()["enabled"] is True


def test_lists_never_show_another_orgs_rows(api: Api) -> None:
    for org in ("org_a", "org_b"):
        for _ in range(3):
            r = api.call(
                "post", f"/v1/orgs/{org}/jobs", org, json={"type": "add", "args": {"a": 1, "b": 2}}
            )
            assert r.status_code == 201
        r = api.call("post", "/v1/schedules", org, json={**SCHEDULE, "cron": "@daily"})
        assert r.status_code == 201, r.text
    api.call("post", "/v1/jobs", json={"type": "add", "args": {"a": 1, "b": 2}})  # no org
    for who in ("org_a", "org_a_viewer"):
        for url in (
            "/v1/jobs",
            "/v1/jobs?org=org_b",
            "/v1/orgs/org_a/jobs",
            "/v1/jobs?limit=1",
        ):
            jobs = api.call("get", url, who).json()["jobs"]
            assert {j["org_id"] for j in jobs} <= {"org_a"}, (who, url)
        assert len(api.call("get", "/v1/jobs", who).json()["jobs"]) == 3
        found = api.call("get", "/v1/jobs/search?q=a", who).json()
        assert found and {j["org_id"] for j in found} == {"org_a"}
        schedules = api.call("get", "/v1/schedules", who).json()
        assert [s["org_id"] for s in schedules] == ["org_a"]
        assert api.call("get", "/v1/schedules?org=org_b", who).json() == []
        audit = api.call("get", "/v1/audit", who).json()
        assert audit and {e["org_id"] for e in audit} == {"org_a"}
        assert api.call("get", "/v1/orgs/org_b/jobs", who).status_code == 404
    assert len(api.call("get", "/v1/jobs", "admin").json()["jobs"]) == 7
    org_b_keys = [k for k in api.call("get", "/v1/keys", "org_a_admin").json()]
    assert {k["org_id"] for k in org_b_keys} == {"org_a"}
    assert api.call("get", "/v1/keys", "org_a").status_code == 403
