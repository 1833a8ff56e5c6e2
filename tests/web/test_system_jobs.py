"""An app's system jobs (``hh.job(..., admin_only=True)``, ``hh.cron(..., admin_only=True)``):
only cluster admins enqueue or schedule them through the API; the app's code does freely."""

from __future__ import annotations

from hourhand import JobContext
from tests.web.conftest import Api


def define_sweep(api: Api) -> None:
    @api.hh.job("storage:sweep", admin_only=True)
    def sweep(ctx: JobContext, batch: int = 10) -> int:
        return batch

    @api.hh.cron("0 * * * *", name="storage:hourly", admin_only=True)
    def hourly(ctx: JobContext) -> None:
        return None


def test_only_cluster_admins_enqueue_or_schedule_a_system_job(api: Api) -> None:
    define_sweep(api)
    body = {"type": "storage:sweep", "args": {}}
    for who, path in (
        ("org_a", "/v1/orgs/org_a/jobs"),
        ("org_a_admin", "/v1/orgs/org_a/jobs"),
        ("operator", "/v1/jobs"),
    ):
        r = api.call("post", path, who, json=body)
        assert r.status_code == 403, (who, path, r.text)
        assert "system jobs" in r.json()["error"]["message"]
    schedule = {"name": "sweeps", "job": "storage:sweep", "cron": "@daily"}
    assert api.call("post", "/v1/schedules", "org_a", json=schedule).status_code == 403
    r = api.call("post", "/v1/jobs", "admin", json=body)
    assert (r.status_code, r.json()["org_id"]) == (201, None)
    assert api.call("post", "/v1/schedules", "admin", json=schedule).status_code == 201
    assert api.hh.enqueue("storage:sweep", {"batch": 3}) > 0  # the app's own code may
    types = {t["name"]: t for t in api.call("get", "/v1/job-types", "admin").json()}
    assert types["storage:sweep"]["admin_only"] is True
    assert types["storage:hourly"]["admin_only"] is True
    assert types["add"]["admin_only"] is False
    # an organisation's key does not see the system jobs at all
    seen = {t["name"] for t in api.call("get", "/v1/job-types", "org_a").json()}
    assert "add" in seen and not seen & {"storage:sweep", "storage:hourly"}
