"""The API served by ``hourhand serve`` (uvicorn, worker and scheduler in one process),
spoken to over HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from hourhand import Hourhand
from hourhand.ops import Actor
from tests.conftest import REPO, subprocess_env, wait_until

pytestmark = pytest.mark.slow
HOURHAND = [sys.executable, "-m", "hourhand", "--app", "tests.apps.web_app:hh"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    def __init__(self, url: str, key: str, *args: str) -> None:
        self.port = free_port()
        self.client = httpx2.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        command = [*HOURHAND, "--database", url, "serve", "--port", str(self.port), "--grace", "5"]
        command += ["--poll-interval", "0.2", *args]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(self._up, timeout=30, interval=0.1, what="the server to answer")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
        try:
            return self.client.get("/health").status_code == 200
        except httpx2.TransportError:
            return False

    def call(self, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, path, **kw)

    def stop(self) -> str:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"serve did not stop on SIGTERM: {err}") from None
        return err


@pytest.fixture
def served(store_url: str) -> Iterator[Served]:
    app = Hourhand(store_url)
    try:
        _, key = app.ops.keys.create(Actor.app("tests"), "tests", "admin")
    finally:
        app.close()
    server = Served(store_url, key)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def test_enqueue_over_http_with_wait_and_pause_a_queue(served: Served) -> None:
    r = served.call("post", "/v1/jobs?wait=20", json={"type": "add", "args": {"a": 2, "b": 3}})
    assert r.status_code == 201, r.text
    assert (r.json()["state"], r.json()["result"]) == ("completed", 5)
    kinds = wait_until(
        lambda: (
            {p["kind"] for p in served.call("get", "/v1/workers").json()}
            >= {"worker", "scheduler", "web"}
            and True
        ),
        what="serve's worker, scheduler and web listed among the processes",
    )
    assert kinds

    assert served.call("post", "/v1/queues/mail/pause").json()["paused"] is True
    job = served.call("post", "/v1/jobs", json={"type": "mail", "args": {"to": "a@b"}}).json()
    # nothing is claimed from the paused queue while a job of another queue runs through
    other = served.call("post", "/v1/jobs?wait=20", json={"type": "slow", "args": {}}).json()
    assert other["state"] == "completed"
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert served.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "queued"
        time.sleep(0.1)
    queues = {q["name"]: q for q in served.call("get", "/v1/queues").json()}
    assert queues["mail"]["paused"] and queues["mail"]["ready"] == 1
    waiting = served.call("get", "/metrics").text
    assert 'hourhand_job_queue_length{queue="mail",type="mail"} 1.0' in waiting

    assert served.call("post", "/v1/queues/mail/resume").json()["paused"] is False
    done = served.call("post", f"/v1/jobs/{job['id']}/retry")  # not retryable: it is queued
    assert done.status_code == 409
    wait_until(
        lambda: served.call("get", f"/v1/jobs/{job['id']}").json()["state"] == "completed",
        what="the mail job to run after resume",
    )
    metrics = served.call("get", "/metrics").text
    assert 'hourhand_job_execution_total{queue="mail",type="mail"} 1.0' in metrics
    err = served.stop()
    assert served.process.returncode == 0, err
    assert "a@b" not in err  # job arguments are never logged


def test_health_jobs_follows_the_workers(store_url: str) -> None:
    app = Hourhand(store_url)
    try:
        _, key = app.ops.keys.create(Actor.app("tests"), "tests", "viewer")
    finally:
        app.close()
    web_only = Served(store_url, key, "--no-worker")
    try:
        r = web_only.call("get", "/health/jobs")
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["workers"]["status"] == "Unhealthy"
        assert r.json()["checks"]["database"]["status"] == "Healthy"
        worker = subprocess.Popen(
            [*HOURHAND, "--database", store_url, "worker"],
            cwd=REPO,
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: web_only.call("get", "/health/jobs").status_code == 200,
                timeout=30,
                interval=0.2,
                what="/health/jobs to answer 200 once a worker runs",
            )
            body = web_only.call("get", "/health/jobs").json()
            assert body["checks"]["workers"]["data"]["alive"] == 1
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0
    finally:
        web_only.stop()
