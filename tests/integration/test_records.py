"""API keys, the audit log and the registry of processes (store/records.py, ops/keys.py,
ops/audit.py, ops/workers.py, presence.py), on both stores."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from contextlib import closing
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from hourhand import Hourhand, JobContext
from hourhand.errors import DatabaseUnavailable, Forbidden, InvalidInput, NotAuthenticated, NotFound
from hourhand.ops.actor import Actor, Role
from hourhand.ops.audit import Audit
from hourhand.ops.keys import KeyOps
from hourhand.ops.workers import Workers
from hourhand.presence import PRUNE_AFTER, Presence
from hourhand.store.records import ProcessInfo
from tests.conftest import WorkerThread, wait_until

CLI = Actor.cli()


def actor(role: str, org_id: str | None = None) -> Actor:
    return Actor("user", f"{role}-{org_id}", Role(role), org_id=org_id, id="u1", address="10.0.0.1")


def sql(hh: Hourhand, statement: str) -> list[dict[str, Any]]:
    """Run one statement on the database directly, beside the store."""
    url = hh.database_url
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(statement).fetchall()]
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as pg:
        cur = pg.execute(statement)
        return cur.fetchall() if cur.description is not None else []


def age_processes(hh: Hourhand, seconds: int) -> None:
    """Move every process's last beat ``seconds`` into the past."""
    if hh.database_url.startswith("sqlite"):
        sql(hh, f"UPDATE hourhand_processes SET last_seen_at = last_seen_at - {seconds}")
    else:
        interval = f"{seconds} * '1 s'::interval"
        sql(hh, f"UPDATE hourhand_processes SET last_seen_at = last_seen_at - {interval}")


# -- API keys ---------------------------------------------------------------------------


def test_a_key_is_shown_once_stored_as_a_digest_and_authenticates(hh: Hourhand) -> None:
    keys = KeyOps(hh)
    made, key = keys.create(CLI, "ci-bot", "operator")
    assert key.startswith(f"hh_{made.prefix}_") and len(key) > 50
    assert (made.name, made.role, made.org_id, made.created_by) == (
        "ci-bot",
        "operator",
        None,
        CLI.label,
    )
    assert made.last_used_at is None and not made.revoked

    [row] = sql(hh, f"SELECT * FROM hourhand_api_keys WHERE id = {made.id}")
    assert row["digest"] == hashlib.sha256(key.encode()).hexdigest()
    secret = key.rsplit("_", 1)[1]
    assert not any(secret in str(value) for value in row.values())  # the key is stored nowhere
    assert row["digest"] not in repr(made) and "digest" not in made.to_dict()

    who = keys.authenticate(key, address="192.0.2.7")
    assert who == Actor("key", "ci-bot", Role.OPERATOR, None, str(made.id), "192.0.2.7")
    used = keys.list(CLI)[0].last_used_at
    assert used is not None

    keys.revoke(CLI, made.id)
    with pytest.raises(NotAuthenticated) as revoked:
        keys.authenticate(key)
    with pytest.raises(NotAuthenticated) as unknown:
        keys.authenticate(key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB"))
    with pytest.raises(NotAuthenticated) as malformed:
        keys.authenticate("Bearer nonsense")
    # one answer for all: nothing tells a revoked key from an unknown or malformed one
    assert str(revoked.value) == str(unknown.value) == str(malformed.value)
    assert keys.revoke(CLI, made.id).revoked_at == keys.list(CLI)[0].revoked_at  # unchanged

    actions = [(e.action, e.target_kind, e.target_id) for e in Audit(hh).list(CLI)]
    assert actions == [("key.revoke", "key", str(made.id)), ("key.create", "key", str(made.id))]
    assert all(key not in str(e.to_dict()) for e in Audit(hh).list(CLI))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "hh_",
        "hh__secret",
        "hh_0123456789ab_",
        "hh_0123456789ab",
        "xx_0123456789ab_secret",
        "hh_0123456789AB_secret",  # upper case: not a prefix we make
        "hh_0123456789ab_secret",  # well formed, unknown
        "hh_" + "a" * 500,
    ],
)
def test_malformed_and_unknown_keys_are_refused_alike(hh: Hourhand, token: str) -> None:
    with pytest.raises(NotAuthenticated, match=r"^invalid API key$"):
        KeyOps(hh).authenticate(token)


def test_a_right_prefix_with_a_wrong_secret_is_refused(hh: Hourhand) -> None:
    keys = KeyOps(hh)
    made, key = keys.create(CLI, "k", "viewer")
    with pytest.raises(NotAuthenticated, match=r"^invalid API key$"):
        keys.authenticate(f"hh_{made.prefix}_{'x' * 43}")
    assert keys.authenticate(key).role == Role.VIEWER


def test_last_use_is_written_at_most_about_once_a_minute(
    hh: Hourhand, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = KeyOps(hh)
    _, key = keys.create(CLI, "k", "viewer")
    touches: list[int] = []
    touch = hh.store.records.touch_key
    monkeypatch.setattr(hh.store.records, "touch_key", lambda i: touches.append(i) or touch(i))
    for _ in range(5):
        keys.authenticate(key)
    assert len(touches) == 1  # the first use; later ones find it recent
    used = keys.list(CLI)[0].last_used_at
    hh.store.records.touch_key(touches[0])  # the database's own guard: no write either
    assert keys.list(CLI)[0].last_used_at == used


def test_only_admins_manage_keys(hh: Hourhand) -> None:
    keys = KeyOps(hh)
    made, _ = keys.create(CLI, "k", "admin")
    for role in ("viewer", "operator"):
        with pytest.raises(Forbidden):
            keys.create(actor(role), "mine", "viewer")
        with pytest.raises(Forbidden):
            keys.list(actor(role))
        with pytest.raises(Forbidden):
            keys.revoke(actor(role), made.id)
    with pytest.raises(InvalidInput):
        keys.create(CLI, "k", "superuser")
    with pytest.raises(InvalidInput):
        keys.create(CLI, "", "viewer")
    with pytest.raises(NotFound):
        keys.revoke(CLI, 999_999)


def test_keys_are_scoped_to_their_organisation(hh: Hourhand) -> None:
    keys = KeyOps(hh)
    cluster, _ = keys.create(CLI, "cluster", "admin")
    a_admin, a_key = keys.create(CLI, "a-admin", "admin", org_id="a")
    b_key, _ = keys.create(CLI, "b-viewer", "viewer", org_id="b")
    a = keys.authenticate(a_key)
    assert a.org_id == "a" and a.role == Role.ADMIN

    own, _ = keys.create(a, "a-viewer", "viewer")  # an org admin's keys are its org's
    assert own.org_id == "a" and own.created_by == "key:a-admin"
    with pytest.raises(Forbidden):
        keys.create(a, "b-admin", "admin", org_id="b")
    assert [k.name for k in keys.list(a)] == ["a-admin", "a-viewer"]
    assert [k.name for k in keys.list(CLI)] == ["cluster", "a-admin", "b-viewer", "a-viewer"]
    for other in (b_key.id, cluster.id):  # another org's key, or a cluster key: not found
        with pytest.raises(NotFound):
            keys.revoke(a, other)
    assert keys.revoke(a, own.id).revoked

    # the audit entries of an org's keys are that org's
    assert [(e.action, e.target_id) for e in Audit(hh).list(a)] == [
        ("key.revoke", str(own.id)),
        ("key.create", str(own.id)),
        ("key.create", str(a_admin.id)),
    ]


# -- the audit log ----------------------------------------------------------------------


def test_audit_lists_newest_first_by_keyset_pages_and_filters(hh: Hourhand) -> None:
    audit = Audit(hh)
    for i in range(25):
        org = "a" if i % 2 else "b"
        entry = audit.record(
            actor("operator", org),
            "job.retry",
            "job",
            i,
            details={"before": {"state": "failed"}, "n": i},
        )
        assert entry is not None and entry.org_id == org and entry.address == "10.0.0.1"
    audit.record(CLI, "queue.pause", "queue", "mail")

    seen: list[int] = []
    before: int | None = None
    while True:
        page = audit.list(CLI, limit=10, before_id=before)
        if not page:
            break
        assert [e.id for e in page] == sorted((e.id for e in page), reverse=True)
        seen += [e.id for e in page]
        before = page[-1].id
    assert len(seen) == 26 == len(set(seen))

    newest = audit.list(CLI, limit=1)[0]
    assert (newest.action, newest.actor_kind, newest.actor, newest.org_id) == (
        "queue.pause",
        "cli",
        CLI.name,
        None,
    )
    assert newest.to_dict()["at"].endswith("+00:00")

    a_view = audit.list(actor("viewer", "a"))
    assert len(a_view) == 12 and {e.org_id for e in a_view} == {"a"}
    assert audit.list(actor("viewer", "a"), target_kind="job", target_id=3)[0].details == {
        "before": {"state": "failed"},
        "n": 3,
    }
    assert audit.list(actor("viewer", "a"), target_kind="job", target_id=4) == []  # b's
    assert [e.target_id for e in audit.list(CLI, action="queue.pause")] == ["mail"]
    assert len(audit.list(CLI, org_id="b")) == 13
    assert audit.list(actor("viewer", "a"), org_id="b") == []  # its own org, whatever asked
    with pytest.raises(InvalidInput):
        audit.list(CLI, limit=0)


def test_a_failed_audit_write_never_fails_the_action(
    hh: Hourhand, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def down(*_: Any, **__: Any) -> None:
        raise DatabaseUnavailable("the database is gone")

    monkeypatch.setattr(hh.store.records, "add_audit", down)
    with caplog.at_level(logging.WARNING, logger="hourhand.ops.audit"):
        _, key = KeyOps(hh).create(CLI, "k", "viewer")  # the action stands
    assert KeyOps(hh).authenticate(key).name == "k"
    assert "could not record key.create" in caplog.text and "the database is gone" in caplog.text
    assert key not in caplog.text

    caplog.clear()
    monkeypatch.setattr(hh.store.records, "add_audit", lambda *_, **__: 1 / 0)
    with caplog.at_level(logging.WARNING, logger="hourhand.ops.audit"):
        assert Audit(hh).record(CLI, "job.retry", "job", 1, details={"args": "s3cret"}) is None
    assert "ZeroDivisionError" in caplog.text and "s3cret" not in caplog.text


# -- processes --------------------------------------------------------------------------


def test_processes_beat_expire_and_are_pruned(hh: Hourhand) -> None:
    records = hh.store.records
    records.beat(ProcessInfo("w1", "worker", "h1", 11, queues=("a", "b"), concurrency=4))
    records.beat(ProcessInfo("s1", "scheduler", "h2", 12))
    first = {p.id: p for p in records.list_processes(30)}
    assert set(first) == {"w1", "s1"} and all(p.alive for p in first.values())
    assert first["w1"].queues == ("a", "b") and first["s1"].queues is None

    records.beat(ProcessInfo("w1", "worker", "h1", 11, queues=None, concurrency=4, running=3))
    again = {p.id: p for p in records.list_processes(30)}
    assert again["w1"].running == 3 and again["w1"].queues is None
    assert again["w1"].started_at == first["w1"].started_at  # kept from the first beat
    assert again["w1"].last_seen_at is not None and first["w1"].last_seen_at is not None
    assert again["w1"].last_seen_at >= first["w1"].last_seen_at

    age_processes(hh, 120)
    records.beat(ProcessInfo("w2", "worker", "h1", 13))
    assert [p.id for p in records.list_processes(30)] == ["w2"]
    listed = records.list_processes(30, include_dead=True)
    assert [(p.id, p.alive) for p in listed] == [("s1", False), ("w1", False), ("w2", True)]
    assert listed[1].to_dict()["queues"] is None

    assert records.prune_processes(60) == 2
    assert [p.id for p in records.list_processes(30, include_dead=True)] == ["w2"]
    assert records.remove_process("w2") and not records.remove_process("w2")


def test_workers_list_hides_job_counts_from_organisations(hh: Hourhand) -> None:
    hh.store.records.beat(ProcessInfo("w1", "worker", "h1", 11, ("a",), 4, 2, 10, 1, "0.1.0"))
    [cluster] = Workers(hh).list(actor("viewer"))
    assert (cluster.running, cluster.completed, cluster.failed, cluster.version) == (
        2,
        10,
        1,
        "0.1.0",
    )
    [org] = Workers(hh).list(actor("viewer", "a"))
    assert (org.host, org.pid, org.queues, org.concurrency) == ("h1", 11, ("a",), 4)
    assert (org.running, org.completed, org.failed, org.version) == (None, None, None, None)


def test_a_worker_registers_itself_and_leaves_on_a_clean_stop(
    hh: Hourhand, run_worker: Any
) -> None:
    @hh.job("noop", queue="mail")
    def noop(ctx: JobContext) -> None:
        return None

    workers = Workers(hh)
    w: WorkerThread = run_worker(queues=["mail", "reports"], concurrency=3)
    [me] = wait_until(lambda: workers.list(CLI), what="the worker's row")
    assert (me.id, me.kind, me.queues, me.concurrency) == (
        w.worker.id,
        "worker",
        ("mail", "reports"),
        3,
    )
    assert me.alive and me.pid > 0 and me.host
    w.stop()
    wait_until(lambda: workers.list(CLI, include_dead=True) == [], what="the row removed")


def test_a_worker_row_carries_the_jobs_it_runs(hh: Hourhand, run_worker: Any) -> None:
    release = threading.Event()

    @hh.job("hold")
    def hold(ctx: JobContext) -> None:
        release.wait(30)

    w: WorkerThread = run_worker(concurrency=5)
    presence = Presence.of_worker(w.worker)  # beats on demand (the worker's own: every 5 s)
    try:
        hh.enqueue_many("hold", [{}, {}])
        wait_until(lambda: len(w.worker._runs) == 2, what="two jobs running")
        presence.beat()
        [row] = Workers(hh).list(CLI)
        assert (row.running, row.queues, row.concurrency) == (2, None, 5)
    finally:
        release.set()


def test_a_scheduler_registers_and_prunes_the_long_gone(hh: Hourhand) -> None:
    records = hh.store.records
    records.beat(ProcessInfo("gone", "worker", "h1", 1))
    age_processes(hh, int(PRUNE_AFTER) + 60)
    records.beat(ProcessInfo("recent", "worker", "h1", 2))
    age_processes(hh, 600)  # dead, not yet pruned: kept

    scheduler = hh.scheduler(poll_interval=0.05)
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    try:
        rows = wait_until(
            lambda: [p for p in records.list_processes(30) if p.kind == "scheduler"],
            what="the scheduler's row",
        )
        assert len(rows) == 1
        # its first beat writes its row, then prunes (a second statement, just after)
        ids = wait_until(
            lambda: (
                (found := [p.id for p in records.list_processes(30, include_dead=True)])
                and "gone" not in found
                and found
            ),
            what="the long-gone row pruned",
        )
        assert "recent" in ids
    finally:
        scheduler.stop()
        thread.join(15)
    assert [p.id for p in records.list_processes(30, include_dead=True)] == ["recent"]


class _Down:
    """An app whose store's records always fail, slowly."""

    def __init__(self) -> None:
        self.tries = 0
        self.store = self
        self.records = self

    def beat(self, process: ProcessInfo) -> None:
        self.tries += 1
        raise DatabaseUnavailable("the database is down")

    def remove_process(self, process_id: str) -> bool:
        raise DatabaseUnavailable("the database is down")


def test_a_failing_beat_is_logged_once_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    app = _Down()
    presence = Presence(app, "worker", "w1", interval=0.01)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="hourhand.presence"):
        presence.start()
        wait_until(lambda: app.tries >= 5, what="beats tried again")
        started = time.monotonic()
        presence.stop()
    assert time.monotonic() - started < 1.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "the database is down" in warnings[0].getMessage()
