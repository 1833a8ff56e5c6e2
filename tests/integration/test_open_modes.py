"""Opening a database without creating it, its schema version, what it holds (both stores),
and the schedule look-ups the CLI uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hourhand import Hourhand
from hourhand.errors import DatabaseNotFound
from hourhand.schedules import ScheduleNotFound
from hourhand.store import latest_migration, locate, open_store
from hourhand.store.sqlite import SQLiteStore


def dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def test_an_app_that_may_not_create_never_creates_a_database(store_url: str) -> None:
    app = Hourhand(store_url, create=False)
    try:
        if dialect(store_url) == "sqlite":
            path = locate(store_url).path
            assert path is not None
            with pytest.raises(DatabaseNotFound, match=f"^no database at {path}$"):
                app.list_jobs()
            assert not os.path.exists(path)
        else:
            with pytest.raises(DatabaseNotFound, match=r"has no hourhand tables$"):
                app.list_jobs()
    finally:
        app.close()
    probe = Hourhand(store_url, create=False, auto_migrate=False)
    try:
        assert probe.database_info().schema_version is None  # nothing was created
    finally:
        probe.close()


def test_an_app_that_may_not_create_refuses_a_database_without_hourhand_tables(
    store_url: str,
) -> None:
    if dialect(store_url) == "sqlite":
        open_store(store_url).close()  # an empty file, as sqlite3 leaves it
    app = Hourhand(store_url, create=False)
    try:
        with pytest.raises(DatabaseNotFound, match="has no hourhand tables"):
            app.list_jobs()
        with pytest.raises(DatabaseNotFound):  # and again: nothing half-open stays behind
            app.counts()
    finally:
        app.close()


def test_an_app_that_may_not_create_uses_an_existing_database(hh: Hourhand) -> None:
    hh.migrate()
    reader = Hourhand(hh.database_url, create=False)
    try:
        assert reader.list_jobs() == [] and reader.schema_version() == latest_migration(
            dialect(hh.database_url)
        )
    finally:
        reader.close()


def test_schema_version_is_none_before_migrating_and_the_latest_after(store_url: str) -> None:
    store = open_store(store_url)
    try:
        assert store.schema_version() is None
        store.migrate()
        assert store.schema_version() == latest_migration(store.dialect)
        assert store.schema_version() == store.applied_migrations()[-1]
    finally:
        store.close()


def test_database_info_of_a_new_then_used_database(hh: Hourhand) -> None:
    before = hh.database_info()
    assert before.schema_version is None and before.empty
    assert before.exists is (dialect(hh.database_url) == "postgres")  # no SQLite file yet
    hh.migrate()
    empty = hh.database_info()
    assert empty.schema_version == empty.latest_version and empty.empty
    hh.registry.update(_app().registry)
    hh.enqueue("greet", {"name": "a"})
    used = hh.database_info()
    assert used.jobs["queued"] == 1 and sum(used.jobs.values()) == 1 and not used.empty
    assert used.url == locate(hh.database_url).masked


def test_an_sqlite_store_that_may_not_create_opens_the_file_read_write_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.db"
    open_store(f"sqlite:///{path}").close()
    store = SQLiteStore(str(path), create=False)
    try:
        path.unlink()  # gone after the check: a new connection must not make a new file
        watcher = store.watch()  # a connection of its own
        watcher.wait(0)
        watcher.close()
        assert not path.exists()
        assert "unable to open database file" in caplog.text
    finally:
        store.close()


def test_schedule_of_a_job_and_names_found_elsewhere(hh: Hourhand) -> None:
    hh.registry.update(_app().registry)
    weekly = [
        hh.schedules.create("weekly", "greet", "@weekly", args={"name": "a"}, org_id=org)
        for org in ("org_b", "org_a")
    ]
    job = hh.get_job(hh.schedules.trigger(weekly[0].id))
    made_by = hh.schedules.of_job(job)
    assert made_by is not None and (made_by.name, made_by.org_id) == ("weekly", "org_b")
    assert hh.schedules.of_job(hh.get_job(hh.enqueue("greet", {"name": "b"}))) is None
    hh.schedules.delete(weekly[0].id)
    assert hh.schedules.of_job(job) is None  # deleted since

    with pytest.raises(ScheduleNotFound) as found:
        hh.schedules.find("weekly")
    assert found.value.elsewhere == ["org_a"]
    assert str(found.value) == "no schedule named 'weekly'; 1 organisation has one: 'org_a'"
    with pytest.raises(ScheduleNotFound) as nowhere:
        hh.schedules.find("daily")
    assert nowhere.value.elsewhere == [] and str(nowhere.value) == "no schedule named 'daily'"


def _app() -> Hourhand:
    from tests.apps import cli_app

    return cli_app.hh
