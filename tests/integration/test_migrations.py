"""Versioned migrations: the fresh schema equals the migrated one; concurrent starters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hourhand.store import open_store
from hourhand.store.base import load_migrations
from tests.conftest import subprocess_env
from tests.support.pgserver import PgServer


@pytest.fixture(params=["sqlite", "postgres"])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db", f"sqlite:///{tmp_path}/chain.db"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database("hh_fresh"), server.create_database("hh_chain")


def test_fresh_schema_equals_the_migration_chain(two_urls: tuple[str, str]) -> None:
    fresh, chain = (open_store(u) for u in two_urls)
    try:
        versions = [v for v, _, _ in load_migrations(fresh.dialect)]
        assert fresh.migrate() == versions
        assert chain.migrate(fresh_schema=False) == versions
        assert fresh.describe_schema() == chain.describe_schema()
        assert any("hourhand_jobs_ready" in line for line in fresh.describe_schema())
        assert fresh.applied_migrations() == chain.applied_migrations() == versions
        assert fresh.migrate() == []  # a second run has nothing to do
    finally:
        fresh.close()
        chain.close()


def test_concurrent_migrate_commands_all_succeed(two_urls: tuple[str, str]) -> None:
    url = two_urls[0]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hourhand", "--database", url, "migrate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(),
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    applied = [out.decode() for out, _ in outputs if b"applied migrations" in out]
    assert len(applied) == 1  # exactly one process did the work
    store = open_store(url)
    try:
        assert store.applied_migrations() == [v for v, _, _ in load_migrations(store.dialect)]
    finally:
        store.close()
