"""hourhand.http against a real local HTTP server (http.server in a thread), run by a real
worker: answers, failures with their reasons, timeouts, secrets, bad parameters."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hourhand import Hourhand, InvalidArguments, JobState
from hourhand.builtin.http import BODY_LIMIT, ERROR_BODY
from tests.conftest import WorkerThread, wait_until
from tests.integration.test_channels import free_port

TOKEN = "Bearer t0ken-value"


class Server:
    """A real HTTP server: /echo answers JSON about the request (never the secret itself,
    a digest of it), /text a text body, /big more than the result keeps, /fail a 500 with
    a long body, /slow nothing until the test ends, /busy a 503 asking to retry later."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization") or ""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                route = self.path.split("?")[0]
                if route == "/slow":
                    outer.release.wait(10)
                    return self.reply(200, b"late", "text/plain")
                if route == "/text":
                    return self.reply(200, b"plain words", "text/plain; charset=utf-8")
                if route == "/big":
                    return self.reply(200, b"x" * (BODY_LIMIT * 3), "text/plain")
                if route == "/fail":
                    return self.reply(500, b"E" * ERROR_BODY + b"TAIL", "text/plain")
                if route == "/busy":
                    return self.reply(503, b"busy", "text/plain", {"Retry-After": "120"})
                if route == "/missing":
                    return self.reply(404, b"no such thing", "text/plain")
                echo = {
                    "method": self.command,
                    "path": self.path,
                    "auth_sha256": hashlib.sha256(auth.encode()).hexdigest() if auth else None,
                    "content_type": self.headers.get("Content-Type"),
                    "body": body.decode(),
                }
                return self.reply(200, json.dumps(echo).encode(), "application/json")

            def reply(
                self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "session=abc")
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", TOKEN)
    return TOKEN


def finished(hh: Hourhand, job_id: int) -> Any:
    job = hh.wait(job_id, 15)
    assert job.state in (JobState.COMPLETED, JobState.FAILED), job
    return job


def test_a_post_with_a_secret_header_returns_the_answer(
    hh: Hourhand, server: Server, token: str, run_worker: Callable[..., WorkerThread]
) -> None:
    args = {
        "method": "POST",
        "url": f"{server.url}/echo?x=1",
        "headers": {"Authorization": {"secret": "API_TOKEN"}, "X-Trace": "t-1"},
        "json": {"period": "daily", "n": 3},
    }
    job_id = hh.enqueue("hourhand.http", args)
    run_worker()
    job = finished(hh, job_id)
    assert job.state == JobState.COMPLETED, job.error
    result = job.result
    assert result["status"] == 200 and result["reason"] == "OK" and not result["truncated"]
    assert result["json"]["auth_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert result["json"]["content_type"] == "application/json"
    assert json.loads(result["json"]["body"]) == {"period": "daily", "n": 3}
    assert result["json"]["path"] == "/echo?x=1"
    assert result["headers"]["content-type"] == "application/json"
    assert "set-cookie" not in result["headers"]  # cookies are not kept
    assert result["elapsed"] >= 0
    [request] = server.requests
    assert request["headers"]["X-Trace"] == "t-1"
    # the job keeps the reference, never the value: not in its args, result or attempts
    stored = hh.get_job(job_id)
    assert stored.args["headers"]["Authorization"] == {"secret": "API_TOKEN"}
    assert "t0ken" not in json.dumps(stored.to_dict(), default=str)


def test_text_bodies_and_a_body_over_the_cap(
    lite: Hourhand, server: Server, lite_worker: Callable[..., WorkerThread]
) -> None:
    text = lite.enqueue("hourhand.http", {"url": f"{server.url}/text"})
    big = lite.enqueue("hourhand.http", {"url": f"{server.url}/big"})
    posted = lite.enqueue(
        "hourhand.http", {"method": "PUT", "url": f"{server.url}/echo", "body": "héllo"}
    )
    lite_worker()
    assert finished(lite, text).result["body"] == "plain words"
    cut = finished(lite, big).result
    assert cut["truncated"] is True and cut["size"] == BODY_LIMIT
    assert cut["body"] == "x" * BODY_LIMIT
    echo = finished(lite, posted).result["json"]
    assert echo["body"] == "héllo" and echo["content_type"] == "text/plain; charset=utf-8"


def test_an_unexpected_status_fails_with_the_status_and_the_first_kb_of_the_body(
    lite: Hourhand, server: Server, lite_worker: Callable[..., WorkerThread]
) -> None:
    failing = lite.enqueue("hourhand.http", {"url": f"{server.url}/fail"}, max_attempts=1)
    missing_ok = lite.enqueue("hourhand.http", {"url": f"{server.url}/missing", "expect": [404]})
    ok_refused = lite.enqueue(
        "hourhand.http", {"url": f"{server.url}/echo", "expect": [201]}, max_attempts=1
    )
    lite_worker()
    job = finished(lite, failing)
    assert job.state == JobState.FAILED
    assert job.error.startswith(
        f"RequestFailed: HTTP 500 Internal Server Error from GET {server.url}/fail "
        "(expected 2xx): EEEE"
    )
    assert "E" * ERROR_BODY in job.error and "TAIL" not in job.error
    assert finished(lite, missing_ok).result["status"] == 404
    refused = finished(lite, ok_refused)
    assert refused.state == JobState.FAILED and "HTTP 200 OK" in refused.error
    assert "(expected 201)" in refused.error


def test_timeouts_and_refused_connections_fail_the_attempt_and_the_retry_policy_applies(
    lite: Hourhand, server: Server, lite_worker: Callable[..., WorkerThread]
) -> None:
    slow = lite.enqueue("hourhand.http", {"url": f"{server.url}/slow", "timeout": 0.5})
    gone = lite.enqueue(
        "hourhand.http", {"url": f"http://127.0.0.1:{free_port()}/"}, max_attempts=1
    )
    busy = lite.enqueue("hourhand.http", {"url": f"{server.url}/busy"})
    worker = lite_worker()
    wait_until(lambda: lite.get_job(slow).state == JobState.RETRYING, what="the slow job's retry")
    [attempt] = lite.attempts(slow)
    assert attempt.error == f"RequestFailed: timed out after 0.5s: GET {server.url}/slow"
    assert attempt.duration is not None and attempt.duration < 5
    refused = finished(lite, gone)
    assert refused.state == JobState.FAILED and refused.error.startswith("RequestFailed: Connect")
    wait_until(lambda: lite.get_job(busy).state == JobState.RETRYING, what="the busy job's retry")
    waited = lite.get_job(busy)
    assert "HTTP 503" in (waited.error or "")
    [first] = lite.attempts(busy)
    assert first.finished_at is not None
    assert 100 < (waited.run_at - first.finished_at).total_seconds() <= 121  # Retry-After
    # the worker lives: another job still runs
    assert finished(lite, lite.enqueue("hourhand.http", {"url": f"{server.url}/text"})).result
    assert worker.thread.is_alive()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"url": "ftp://example.com/x"}, "is not an http:// or https:// URL"),
        ({"url": "http://"}, "is not an http:// or https:// URL with a host"),
        ({"url": "http://example.com:99999/"}, "argument 'url': not a valid URL"),
        ({"url": "http://x", "methd": "POST"}, "unexpected keyword argument 'methd'"),
        ({"url": "http://x", "method": "FETCH"}, "argument 'method'"),
        ({"url": "http://x", "timeout": "5"}, "argument 'timeout'"),
        ({"url": "http://x", "timeout": 0}, "argument 'timeout'"),
        ({"url": "http://x", "headers": {"Bad Name": "v"}}, "argument 'headers'"),
        ({"url": "http://x", "headers": {"X": "a\r\nInjected: 1"}}, "argument 'headers'"),
        ({"url": "http://x", "json": {}, "body": "b"}, "not both"),
        (
            {"url": "http://x", "headers": {"Authorization": {"secret": "MISSING_ONE"}}},
            "secret 'MISSING_ONE' is not set (set HOURHAND_SECRET_MISSING_ONE or add "
            "MISSING_ONE to [secrets])",
        ),
        ({"url": "http://x", "headers": {"A": {"secret": "bad name"}}}, "argument 'headers'"),
        ({}, "missing a required argument: 'url'"),
    ],
)
def test_bad_parameters_are_refused_at_enqueue(
    lite: Hourhand, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArguments) as refused:
        lite.enqueue("hourhand.http", args)
    assert message in str(refused.value)
    assert lite.counts()["queued"] == 0


def test_a_secret_a_header_cannot_carry_fails_without_showing_it(
    lite: Hourhand,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    lite_worker: Callable[..., WorkerThread],
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "Bearer abc\nInjected: yes")
    args = {"url": f"{server.url}/echo", "headers": {"Authorization": {"secret": "API_TOKEN"}}}
    job_id = lite.enqueue("hourhand.http", args, max_attempts=1)
    lite_worker()
    job = finished(lite, job_id)
    assert job.error == (
        "RequestFailed: secret 'API_TOKEN' holds a line break or NUL, which a header value "
        "cannot (header 'Authorization')"
    )
    [attempt] = lite.attempts(job_id)
    assert "abc" not in (attempt.traceback or "") and server.requests == []
