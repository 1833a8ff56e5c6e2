"""``hourhand queues list|pause|resume`` and the rate-limit line of ``jobs show``, run as a
user would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from hourhand import Hourhand, JobContext, RateLimit
from tests.acceptance.test_cli import hourhand

APP = "tests.apps.cli_app:hh"


@pytest.fixture
def app(store_url: str) -> Iterator[Hourhand]:
    hh = Hourhand(store_url)

    @hh.job("greet", queue="mail", rate_limit=(2, 60))
    def greet(ctx: JobContext, name: str) -> None:
        return None

    try:
        yield hh
    finally:
        hh.close()


def test_pause_list_resume(app: Hourhand) -> None:
    db = app.database_url
    app.enqueue_many("greet", [{"name": n} for n in "abc"])

    paused = hourhand("--database", db, "queues", "pause", "mail")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.strip() == (
        "queue 'mail' paused: workers start none of its 3 ready jobs until it is resumed; "
        "0 running jobs finish"
    )
    listed = json.loads(hourhand("--database", db, "queues", "list", "--json").stdout)
    assert [(q["name"], q["paused"], q["ready"], q["running"]) for q in listed] == [
        ("mail", True, 3, 0)
    ]
    assert listed[0]["changed_at"] is not None

    table = hourhand("--database", db, "queues", "list").stdout  # piped: plain lines
    assert table.splitlines()[:2] == [
        "1 queue",
        "queue  state   ready  running  paused/resumed (UTC)",
    ]
    assert re.match(r"mail   paused      3        0  \d{4}-", table.splitlines()[2]), table
    with_app = json.loads(
        hourhand("--app", APP, "--database", db, "queues", "list", "--json").stdout
    )
    # the app's queues: greet's "mail" is the paused one; broken's "default" is listed too
    assert [(q["name"], q["paused"]) for q in with_app] == [("default", False), ("mail", True)]

    resumed = hourhand("--database", db, "queues", "resume", "mail")
    assert (
        resumed.returncode == 0 and resumed.stdout.strip() == "queue 'mail' resumed: 3 ready jobs"
    )
    listed = json.loads(hourhand("--database", db, "queues", "list", "--json").stdout)
    assert [(q["name"], q["paused"]) for q in listed] == [("mail", False)]


def test_pausing_an_empty_queue_says_later_jobs_wait(app: Hourhand) -> None:
    db = app.database_url
    out = hourhand("--database", db, "queues", "pause", "reports")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "queue 'reports' paused: it has no ready or running jobs now; jobs that arrive in it "
        "wait until it is resumed"
    )
    assert app.store.paused_queues() == {"reports"}


def test_bad_queue_names_are_one_line_errors(app: Hourhand) -> None:
    for args in (["pause", ""], ["resume", "x" * 300]):
        out = hourhand("--database", app.database_url, "queues", *args)
        assert out.returncode == 2
        assert out.stderr.startswith("error: queue must be a non-empty string")
        assert len(out.stderr.strip().splitlines()) == 1


def test_jobs_show_says_a_job_waits_on_its_rate_limit(app: Hourhand) -> None:
    db = app.database_url
    ids = app.enqueue_many("greet", [{"name": n} for n in "abc"])
    took = app.store.claim_limited("w", None, "greet", 10, 30, None, RateLimit(2, 60))
    assert len(took.jobs) == 2 and took.free_in is not None

    # no --app: the limit comes from the database
    shown = hourhand("--database", db, "jobs", "show", str(ids[2]))
    assert shown.returncode == 0, shown.stderr
    line = " ".join(shown.stdout.split())
    assert re.search(
        r"rate limit waiting on its rate limit: 2 per minute \(2 started in the last minute\);"
        r" the next start is allowed at \d\d:\d\d:\d\d UTC \(in (59|60)s\)",
        line,
    ), shown.stdout

    running = " ".join(hourhand("--database", db, "jobs", "show", str(ids[0])).stdout.split())
    assert "rate limit reached: 2 per minute" in running  # a started one: not "waiting"
