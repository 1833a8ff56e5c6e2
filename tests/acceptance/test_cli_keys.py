"""``hourhand keys create|list|revoke`` and ``hourhand workers``, run as a user would."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from typing import Any

import pytest

from hourhand import Hourhand
from hourhand.errors import NotAuthenticated
from hourhand.ops.keys import KeyOps
from tests.acceptance.test_cli import hourhand
from tests.conftest import subprocess_env, wait_until

APP = "tests.apps.cli_app:hh"


def run_json(*args: str) -> Any:
    done = hourhand(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_keys_create_list_revoke(db: str) -> None:
    made = run_json("--database", db, "keys", "create", "--name", "ci", "--role", "operator")
    assert isinstance(made["id"], int) and made["key"].startswith("hh_")
    org = run_json(
        "--database",
        db,
        "keys",
        "create",
        "--name",
        "acme-bot",
        "--role",
        "viewer",
        "--org",
        "acme",
    )
    app = Hourhand(db)
    try:
        who = KeyOps(app).authenticate(made["key"])
        assert (who.kind, who.name, who.role, who.org_id) == ("key", "ci", "operator", None)
        assert KeyOps(app).authenticate(org["key"]).org_id == "acme"

        listed = run_json("--database", db, "keys", "list")
        assert [(k["id"], k["name"], k["role"], k["org_id"]) for k in listed] == [
            (made["id"], "ci", "operator", None),
            (org["id"], "acme-bot", "viewer", "acme"),
        ]
        assert listed[0]["last_used_at"] is not None and listed[1]["revoked_at"] is None
        table = hourhand("--database", db, "keys", "list")
        text = table.stdout + json.dumps(listed)
        for key in (made["key"], org["key"]):  # never the key, nor its digest
            assert key not in text and hashlib.sha256(key.encode()).hexdigest() not in text
        assert "acme-bot" in table.stdout and "active" in table.stdout

        revoked = hourhand("--database", db, "keys", "revoke", str(made["id"]))
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.startswith(f"key {made['id']} 'ci' revoked at ")
        with pytest.raises(NotAuthenticated):
            KeyOps(app).authenticate(made["key"])
        assert run_json("--database", db, "keys", "list")[0]["revoked_at"] is not None
    finally:
        app.close()


def test_keys_errors_are_one_line_with_exit_code_2(db: str) -> None:
    for args, message in [
        (["keys", "revoke", "12345"], "error: no key with id 12345"),
        (["keys", "create", "--name", "x", "--role", "root"], "invalid value for '--role'"),
        (["keys", "create", "--role", "viewer"], "missing option '--name'"),
    ]:
        done = hourhand("--database", db, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_human_create_prints_the_key_once(db: str) -> None:
    done = hourhand("--database", db, "keys", "create", "--name", "ops", "--role", "admin")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "key 1 'ops' created: admin of the whole cluster"
    assert lines[-1].startswith("hh_") and "not shown again" in done.stdout


def test_workers_lists_a_running_worker_until_it_stops(db: str) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hourhand",
            "--app",
            APP,
            "--database",
            db,
            "worker",
            "--queues",
            "mail,default",
            "--concurrency",
            "3",
        ],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listed() -> list[dict[str, Any]]:
            return run_json("--database", db, "workers")  # type: ignore[no-any-return]

        [row] = wait_until(listed, timeout=30, interval=0.2, what="the worker listed")
        assert (row["kind"], row["pid"], row["queues"], row["concurrency"]) == (
            "worker",
            proc.pid,
            ["mail", "default"],
            3,
        )
        assert row["alive"] is True and row["running"] == 0 and row["last_seen_at"]
        table = hourhand("--database", db, "workers").stdout
        assert "mail,default" in table and "0/3" in table and "alive" in table
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert run_json("--database", db, "workers", "--all") == []  # a clean stop leaves nothing
