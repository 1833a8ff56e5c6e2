"""hourhand.sql on both databases, run by a real worker: statements and function calls on
the app's own database and on named ones from the settings, results capped and JSON-safe,
statement timeouts, errors with their reasons, bad parameters refused at enqueue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hourhand import Hourhand, InvalidArguments, JobState
from tests.conftest import WorkerThread, wait_until


def finished(hh: Hourhand, job_id: int) -> Any:
    job = hh.wait(job_id, 20)
    assert job.state in (JobState.COMPLETED, JobState.FAILED), job
    return job


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def test_statements_and_a_function_call_on_the_apps_own_database(
    hh: Hourhand, store_url: str, run_worker: Callable[..., WorkerThread]
) -> None:
    lite = is_sqlite(store_url)
    mark, named = ("?", ":name") if lite else ("%s", "%(name)s")
    steps = [
        {"sql": "CREATE TABLE budgets (id integer, name text, spent numeric, note bytea)"}
        if not lite
        else {"sql": "CREATE TABLE budgets (id integer, name text, spent numeric, note blob)"},
        {
            "sql": f"INSERT INTO budgets (id, name, spent) VALUES ({mark}, {mark}, 1.5), "
            "(2, 'b', 2), (3, 'c', 3)",
            "params": [1, "a"],
        },
        {
            "sql": f"UPDATE budgets SET spent = spent + 1 WHERE name <> {named}",
            "params": {"name": "c"},
        },
        {"sql": "SELECT id, name, spent FROM budgets WHERE name LIKE 'b%' OR id = 1 ORDER BY id"},
        {"sql": "SELECT id FROM budgets ORDER BY id", "max_rows": 2},
    ]
    if lite:
        steps.append({"function": "abs", "params": [-7]})
    else:
        steps.append(
            {
                "sql": "CREATE FUNCTION budget_alert_worker(n int) RETURNS int LANGUAGE sql AS "
                "'SELECT n * 2'"
            }
        )
        steps.append({"function": "budget_alert_worker", "params": [21]})
    run_worker(concurrency=1)
    results = []
    for args in steps:  # one at a time: each step needs the one before
        job = finished(hh, hh.enqueue("hourhand.sql", args, max_attempts=1))
        assert job.state == JobState.COMPLETED, job.error
        results.append(job.result)
    assert results[1]["rows_affected"] == 3 and results[2]["rows_affected"] == 2
    selected = results[3]
    assert selected["database"] == "default" and selected["columns"] == ["id", "name", "spent"]
    assert [row[:2] for row in selected["rows"]] == [[1, "a"], [2, "b"]]
    assert float(selected["rows"][0][2]) == 2.5  # numeric: text on PostgreSQL, a number here
    assert selected["row_count"] == 2 and selected["truncated"] is False
    capped = results[4]
    assert capped["rows"] == [[1], [2]] and capped["row_count"] == 2 and capped["truncated"]
    assert results[-1]["rows"] == ([[7]] if lite else [[42]])


def test_a_named_database_whose_url_is_a_secret_and_a_read_only_one(
    hh: Hourhand,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_worker: Callable[..., WorkerThread],
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_REPORTS_DB", store_url)
    config = tmp_path / "hourhand.toml"
    config.write_text(
        '[databases.reports]\nurl = { secret = "REPORTS_DB" }\ntimeout = 30\n\n'
        f'[databases.archive]\nurl = "{store_url}"\nread_only = true\n'
    )
    hh.load_config(config)
    assert sorted(hh.builtin.databases) == ["archive", "reports"]
    made = hh.enqueue("hourhand.sql", {"database": "reports", "sql": "CREATE TABLE t (n int)"})
    run_worker(concurrency=1)
    assert finished(hh, made).state == JobState.COMPLETED
    wrote = hh.enqueue(
        "hourhand.sql", {"database": "archive", "sql": "INSERT INTO t VALUES (1)"}, max_attempts=1
    )
    job = finished(hh, wrote)
    assert job.state == JobState.FAILED
    assert job.error.startswith("StatementFailed: database 'archive': ")
    assert "read" in job.error.lower()  # read-only transaction / readonly database
    read = finished(hh, hh.enqueue("hourhand.sql", {"database": "archive", "sql": "SELECT 1"}))
    assert read.result["rows"] == [[1]]
    with pytest.raises(InvalidArguments, match=r"unknown database 'nope' \(databases: archive, "):
        hh.enqueue("hourhand.sql", {"database": "nope", "sql": "SELECT 1"})
    monkeypatch.delenv("HOURHAND_SECRET_REPORTS_DB")
    with pytest.raises(InvalidArguments, match="secret 'REPORTS_DB' is not set"):
        hh.enqueue("hourhand.sql", {"database": "reports", "sql": "SELECT 1"})


def test_timeouts_and_refused_statements_fail_with_the_reason_and_the_worker_lives(
    hh: Hourhand, store_url: str, run_worker: Callable[..., WorkerThread]
) -> None:
    long = (
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
        if is_sqlite(store_url)
        else "SELECT pg_sleep(5)"
    )
    slow = hh.enqueue("hourhand.sql", {"sql": long, "timeout": 0.3}, max_attempts=1)
    broken = hh.enqueue("hourhand.sql", {"sql": "SELEC 1"}, max_attempts=1)
    two = hh.enqueue("hourhand.sql", {"sql": "SELECT 1; SELECT 2"}, max_attempts=1)
    missing = hh.enqueue("hourhand.sql", {"sql": "SELECT * FROM no_such_table"})
    worker = run_worker()
    job = finished(hh, slow)
    assert job.error == "StatementFailed: statement timeout: it ran over 0.3s on database 'default'"
    [attempt] = hh.attempts(slow)
    assert attempt.duration is not None and attempt.duration < 4
    assert "syntax error" in finished(hh, broken).error.lower()
    several = finished(hh, two).error
    assert several.startswith("StatementFailed: database 'default': ")
    assert "one statement at a time" in several or "multiple commands" in several
    wait_until(lambda: hh.get_job(missing).state == JobState.RETRYING, what="a retry")
    assert "no_such_table" in (hh.get_job(missing).error or "")
    assert finished(hh, hh.enqueue("hourhand.sql", {"sql": "SELECT 2"})).result["rows"] == [[2]]
    assert worker.thread.is_alive()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "give either 'sql' (a statement) or 'function' (a name)"),
        ({"sql": "SELECT 1", "function": "f"}, "give either 'sql'"),
        ({"function": "f(); DROP TABLE x"}, "argument 'function'"),
        ({"function": "f", "params": {"a": 1}}, "a function takes its arguments as a list"),
        ({"sql": "SELECT 1", "params": "x"}, "argument 'params'"),
        ({"sql": "SELECT 1", "max_rows": 100_001}, "argument 'max_rows'"),
        ({"sql": "SELECT 1", "timeout": -1}, "argument 'timeout'"),
        ({"sql": ""}, "argument 'sql'"),
        ({"sql": "SELECT 1", "database": "elsewhere"}, "unknown database 'elsewhere'"),
        ({"sql": "SELECT 1", "rows": 5}, "unexpected keyword argument 'rows'"),
    ],
)
def test_bad_parameters_are_refused_at_enqueue(
    lite: Hourhand, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArguments) as refused:
        lite.enqueue("hourhand.sql", args)
    assert message in str(refused.value)
