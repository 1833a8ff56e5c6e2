"""``hourhand users create|list|disable``, run as a user would: the password on standard
input, then a sign-in with it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hourhand import Hourhand
from hourhand.errors import NotAuthenticated
from hourhand.ops import Actor
from tests.acceptance.test_cli import hourhand
from tests.conftest import subprocess_env

PASSWORD = "correct horse battery"


def users_create(
    db: str, *args: str, password: str, command: str = "create"
) -> subprocess.CompletedProcess[str]:
    environ = subprocess_env(COLUMNS="200")
    environ.pop("HOURHAND_DATABASE", None)
    return subprocess.run(
        [sys.executable, "-m", "hourhand", "--database", db, "users", command, *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def test_users_create_with_the_password_on_stdin_then_sign_in(db: str) -> None:
    made = users_create(db, "ana", "--role", "operator", "--password-stdin", password=PASSWORD)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "user 'ana' created: operator of the whole cluster"
    org = users_create(
        db,
        "bo",
        "--role",
        "viewer",
        "--org",
        "acme",
        "--password-stdin",
        "--json",
        password=PASSWORD,
    )
    assert org.returncode == 0, org.stderr
    assert json.loads(org.stdout)["org_id"] == "acme"

    listed = hourhand("--database", db, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert [(u["name"], u["role"], u["org_id"]) for u in users] == [
        ("ana", "operator", None),
        ("bo", "viewer", "acme"),
    ]
    table = hourhand("--database", db, "users", "list")
    for text in (listed.stdout, table.stdout):
        assert PASSWORD not in text and "argon2" not in text
    assert "active" in table.stdout

    app = Hourhand(db)
    try:
        who = app.ops.users.authenticate("ana", None, PASSWORD)
        assert (who.kind, who.name, who.role, who.org_id) == ("user", "ana", "operator", None)
        assert app.ops.users.authenticate("bo", "acme", PASSWORD).org_id == "acme"
        with pytest.raises(NotAuthenticated):
            app.ops.users.authenticate("bo", None, PASSWORD)  # a cluster user of that name?

        off = hourhand("--database", db, "users", "disable", "bo", "--org", "acme")
        assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
        with pytest.raises(NotAuthenticated):
            app.ops.users.authenticate("bo", "acme", PASSWORD)
    finally:
        app.close()


def test_users_create_refuses_what_it_must(db: str) -> None:
    short = users_create(db, "ana", "--role", "admin", "--password-stdin", password="short")
    assert short.returncode != 0 and "8 to 1024 characters" in short.stderr
    assert (
        users_create(db, "ana", "--role", "admin", "--password-stdin", password=PASSWORD).returncode
        == 0
    )
    again = users_create(db, "ana", "--role", "viewer", "--password-stdin", password=PASSWORD)
    assert again.returncode != 0 and "exists" in again.stderr
    missing = hourhand("--database", db, "users", "create", "cy", "--role", "viewer")
    assert missing.returncode != 0 and "--password-stdin" in missing.stderr
    bad_role = users_create(db, "cy", "--role", "root", "--password-stdin", password=PASSWORD)
    assert bad_role.returncode != 0
    unknown = hourhand("--database", db, "users", "disable", "nobody")
    assert unknown.returncode != 0 and "no user 'nobody'" in unknown.stderr


def test_users_password_sets_a_new_one_and_the_old_one_stops(db: str) -> None:
    assert (
        users_create(db, "ana", "--role", "admin", "--password-stdin", password=PASSWORD).returncode
        == 0
    )
    new = "a new and longer password"
    changed = users_create(db, "ana", "--password-stdin", password=new, command="password")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "user 'ana': new password set"
    app = Hourhand(db)
    try:
        assert app.ops.users.authenticate("ana", None, new).name == "ana"
        with pytest.raises(NotAuthenticated):
            app.ops.users.authenticate("ana", None, PASSWORD)
        [entry] = app.ops.audit.list(Actor.cli(), action="user.password")
        assert entry.details == {"name": "ana"} and new not in repr(entry)
    finally:
        app.close()
    short = users_create(db, "ana", "--password-stdin", password="short", command="password")
    assert short.returncode != 0 and "8 to 1024 characters" in short.stderr
    nobody = users_create(db, "bo", "--password-stdin", password=new, command="password")
    assert nobody.returncode != 0 and "no user 'bo'" in nobody.stderr
