"""Requests and answers of the job and schedule routes: malformed payloads get a 4xx JSON
error naming the problem; enqueue with wait, unique keys, pages, bulk redrive."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import WorkerThread
from tests.web.conftest import Api

ADD = {"type": "add", "args": {"a": 2, "b": 3}}


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "words"),
    [
        (
            "post",
            "/v1/jobs",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "JSON",
        ),
        ("post", "/v1/jobs", {"json": {"type": "add", "args": [1, 2]}}, 422, "args"),
        (
            "post",
            "/v1/jobs",
            {"json": {"type": "nope", "args": {}}},
            400,
            "unknown job type 'nope'",
        ),
        ("post", "/v1/jobs", {"json": {"type": "add", "args": {"a": "x", "b": 1}}}, 400, "a"),
        ("post", "/v1/jobs", {"json": {"type": "add", "typo": 1}}, 422, "typo"),
        ("post", "/v1/jobs?wait=301", {"json": ADD}, 422, "wait"),
        (
            "post",
            "/v1/schedules",
            {"json": {"name": "s", "job": "add", "cron": "61 * * * *", "args": {"a": 1, "b": 1}}},
            400,
            "cron",
        ),
        (
            "post",
            "/v1/schedules",
            {
                "json": {
                    "name": "s",
                    "job": "add",
                    "cron": "@daily",
                    "tz": "Mars/Olympus",
                    "args": {"a": 1, "b": 1},
                }
            },
            400,
            "Mars/Olympus",
        ),
        ("get", "/v1/cron/preview?expr=banana", {}, 400, "banana"),
        ("get", "/v1/cron/preview?expr=*+*+*+*+*&tz=Nowhere/Town", {}, 400, "Nowhere/Town"),
        ("get", "/v1/jobs?state=lost", {}, 422, "state"),
        ("get", "/v1/jobs?cursor=abc", {}, 400, "cursor"),
        ("get", "/v1/jobs/abc", {}, 422, "job_id"),
        ("get", "/v1/jobs/99999999999999999999999", {}, 404, "no job"),
        ("post", "/v1/jobs/cancel", {"json": {}}, 400, "state"),
        ("get", "/v1/nothing", {}, 404, "/v1/nothing"),
        ("put", "/v1/jobs", {}, 405, "PUT"),
    ],
)
def test_malformed_requests_get_a_json_error_naming_the_problem(
    api: Api, method: str, path: str, kw: dict, status: int, words: str
) -> None:
    r = api.call(method, path, **kw)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"code", "message"}
    assert words in error["message"], error


def test_enqueue_with_wait_returns_the_result(
    api: Api, app_workers: Callable[..., WorkerThread]
) -> None:
    app_workers(api.hh, poll_interval=0.1)
    r = api.call("post", "/v1/jobs?wait=20", json=ADD)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "completed" and r.json()["result"] == 5
    r = api.call("post", "/v1/orgs/org_a/jobs?wait=20", "org_a", json=ADD)
    assert (r.status_code, r.json()["result"], r.json()["org_id"]) == (201, 5, "org_a")
    detail = api.call("get", f"/v1/jobs/{r.json()['id']}", "org_a").json()
    assert [a["outcome"] for a in detail["attempts"]] == ["completed"]


def test_wait_ends_with_the_job_still_waiting(api: Api) -> None:
    r = api.call("post", "/v1/jobs?wait=0.3", json=ADD)
    assert (r.status_code, r.json()["state"]) == (201, "queued")


def test_a_held_unique_key_answers_200_with_the_existing_job(api: Api) -> None:
    first = api.call("post", "/v1/jobs", json={**ADD, "unique_key": "k1"})
    again = api.call("post", "/v1/jobs", json={**ADD, "unique_key": "k1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_pages_follow_the_cursor(api: Api) -> None:
    ids = [api.call("post", "/v1/jobs", json=ADD).json()["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        url = "/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("get", url).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_bulk_retry_redrives_the_dead_letter_set(
    api: Api, app_workers: Callable[..., WorkerThread]
) -> None:
    worker = app_workers(api.hh, poll_interval=0.1)
    for _ in range(3):
        r = api.call("post", "/v1/jobs?wait=20", json={"type": "broken"})
        assert r.json()["state"] == "failed"
    worker.stop()  # (a worker that claims a retried job at once can make it count as unchanged)
    dry = api.call("post", "/v1/jobs/retry", json={"type": "broken", "dry_run": True}).json()
    assert (dry["matched"], dry["changed"], len(dry["sample"])) == (3, 0, 3)
    done = api.call("post", "/v1/jobs/retry", json={"type": "broken"}).json()
    assert done["changed"] == 3 and len(done["job_ids"]) == 3
    audit = api.call("get", "/v1/audit?action=job.bulk_retry").json()
    assert audit[0]["details"]["changed"] == 3


def test_schedule_routes(api: Api) -> None:
    body = {"name": "nightly", "job": "add", "cron": "30 2 * * *", "tz": "Europe/Stockholm"}
    made = api.call("post", "/v1/schedules", json={**body, "args": {"a": 1, "b": 2}}).json()
    sid = made["id"]
    assert made["description"]
    changed = api.call("patch", f"/v1/schedules/{sid}", json={"cron": "0 3 * * *"}).json()
    assert changed["cron"] == "0 3 * * *"
    assert api.call("patch", f"/v1/schedules/{sid}", json={"cron": None}).status_code == 400
    assert api.call("post", f"/v1/schedules/{sid}/disable").json()["enabled"] is False
    assert api.call("post", f"/v1/schedules/{sid}/enable").json()["enabled"] is True
    job = api.call("post", f"/v1/schedules/{sid}/trigger").json()
    assert job["schedule_id"] == sid
    [run] = api.call("get", f"/v1/schedules/{sid}/runs").json()["runs"]
    assert (run["status"], run["job_id"], run["state"]) == ("triggered", job["id"], "queued")
    preview = api.call("get", "/v1/cron/preview?expr=30+2+*+*+*&tz=Europe/Stockholm&count=400")
    assert preview.status_code == 422
    preview = api.call(
        "get",
        "/v1/cron/preview?expr=30+2+*+*+*&tz=Europe/Stockholm&count=3&after=2026-03-28T00:00:00Z",
    ).json()
    assert preview["fires"][1]["dst"] and "skipped" in preview["fires"][1]["dst"]
    assert api.call("delete", f"/v1/schedules/{sid}").status_code == 204
    assert api.call("get", f"/v1/schedules/{sid}").status_code == 404


def test_the_api_mounts_in_another_fastapi_app(api: Api) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    outer = FastAPI()
    outer.mount("/hourhand", api.hh.asgi_app())
    with TestClient(outer) as client:
        assert client.get("/hourhand/health").json() == {"status": "ok"}
        r = client.post("/hourhand/v1/jobs", json=ADD, headers=api.auth("operator"))
        assert r.status_code == 201
        assert client.get("/hourhand/v1/jobs/1", headers=api.auth("viewer")).status_code == 200
        assert client.get("/hourhand/v1/jobs").status_code == 401
