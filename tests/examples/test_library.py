"""examples/library (seed 003): each of its eight scheduled jobs run once by a real worker
against generated data, with its effect checked in the database, on disk, in a real SMTP
server's mailbox or at the stand-in catalogue and token endpoint; the schedules, alert
rules and channels of its hourhand.toml; a failing backup's alert at a real webhook and
in the mailbox; and the admin's custom job created with parameters through the REST API."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from examples.common.domain import Domain, iso, now, sqlite_path
from examples.library.app import CONFIG, create_app
from examples.library.jobs.loans import parse
from examples.library.seed import TABLES, generate
from examples.library.upstream import REVOKED_PREFIX, Upstream, known
from fastapi.testclient import TestClient

from hourhand import Hourhand, Job, JobState
from hourhand.alert_config import EmailChannel, WebhookChannel
from hourhand.ops import Actor
from tests.conftest import WorkerThread, reset_postgres, wait_until
from tests.support.pgserver import find_bin
from tests.support.servers import Mailbox, Receiver

SEED_SCHEDULES = {  # seed 003, "Scheduled Jobs List"
    "refresh_metadata": "0 3 * * *",
    "cleanup_orphans": "0 4 * * 0",
    "expire_sessions": "*/15 * * * *",
    "send_notifications": "*/5 * * * *",
    "generate_stats": "0 * * * *",
    "backup_database": "0 2 * * *",
    "refresh_tokens": "0 */6 * * *",
    "loan_reminders": "0 9 * * *",
}
WAIT = 15.0  # seconds a job may take here


@dataclass
class Library:
    hh: Hourhand
    domain: Domain
    upstream: Upstream
    mailbox: Mailbox
    receiver: Receiver | None
    assets: Path
    backups: Path

    def run(self, name: str, args: dict[str, Any] | None = None, **options: Any) -> Job:
        """Enqueue a job, let the worker run it, and check that it completed."""
        job = self.hh.wait(self.hh.enqueue(name, args or {}, **options), timeout=WAIT)
        assert job.state == JobState.COMPLETED, (job.state, job.error)
        return job

    def count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = self.domain.one(sql, params)
        assert row is not None
        return int(next(iter(row.values())))

    def mail_to(self, address: str) -> list[Any]:
        return [m for to, m in self.mailbox.messages if address in to]

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for _, m in self.mailbox.messages]


@pytest.fixture
def make_library(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: tuple[Any, Mailbox],
    app_workers: Callable[..., WorkerThread],
) -> Iterator[Callable[..., Library]]:
    """``make(receiver, url=None)``: the library on a fresh SQLite file (or ``url``) with
    generated data, its
    hourhand.toml read with the test's servers in the environment, and a worker."""
    made: list[Library] = []

    def make(receiver: Receiver | None, url: str | None = None) -> Library:
        upstream = Upstream().start()
        settings, mailbox = smtp
        hook = receiver.url if receiver is not None else "http://127.0.0.1:9/unused"
        env = {
            "LIBRARY_ASSETS_DIR": str(tmp_path / "assets"),
            "LIBRARY_BACKUP_DIR": str(tmp_path / "backups"),
            "LIBRARY_METADATA_URL": upstream.url,
            "LIBRARY_COVERS_URL": upstream.url,
            "LIBRARY_OAUTH_TOKEN_URL": f"{upstream.url}/oauth/token",
            "LIBRARY_OAUTH_CLIENT_SECRET": "client-s3cret",
            "HOURHAND_SMTP_HOST": settings.host,
            "HOURHAND_SMTP_PORT": str(settings.port),
            "HOURHAND_CHANNELS": json.dumps({"ops-hook": {"kind": "webhook", "url": hook}}),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        url = url or f"sqlite:///{tmp_path}/library.db"
        generate(url, scale=1)
        hh = create_app(url)
        made.append(
            Library(
                hh,
                Domain(url),
                upstream,
                mailbox,
                receiver,
                tmp_path / "assets",
                tmp_path / "backups",
            )
        )
        hh.load_config(CONFIG)
        hh.sync_schedules()
        workers.append(app_workers(hh, poll_interval=0.05))
        return made[-1]

    workers: list[WorkerThread] = []
    yield make
    for worker in workers:  # before their app's database is closed under them
        worker.stop()
    for library in made:
        library.upstream.close()
        library.hh.close()


@pytest.fixture
def library(make_library: Callable[..., Library]) -> Library:
    return make_library(None)


@pytest.fixture
def alerting(make_library: Callable[..., Library], receiver: Receiver) -> Library:
    """The library with its ops-hook channel pointed at the webhook ``receiver``."""
    return make_library(receiver)


# -- configuration ---------------------------------------------------------------------------
def test_the_eight_schedules_alert_rules_and_channels_load_from_hourhand_toml(
    alerting: Library, receiver: Receiver
) -> None:
    hh = alerting.hh
    schedules = {s.name: s for s in hh.schedules.list() if s.name in SEED_SCHEDULES}
    assert {name: s.cron for name, s in schedules.items()} == SEED_SCHEDULES
    assert all(s.job == s.name and s.enabled for s in schedules.values())
    assert schedules["loan_reminders"].tz == "Europe/London"
    assert {s.tz for n, s in schedules.items() if n != "loan_reminders"} == {"UTC"}
    assert schedules["backup_database"].misfire == "once"
    assert schedules["expire_sessions"].misfire == "skip"
    assert {s.overlap for s in schedules.values()} == {"skip"}  # never two runs at once
    assert schedules["backup_database"].args == {"keep": 7}
    backup = hh.registry["backup_database"]
    assert (backup.max_attempts, backup.timeout, backup.queue) == (3, 3600, "maintenance")
    assert hh.registry["expire_sessions"].max_attempts == 1  # the next run redoes it

    config = hh.alerting
    kinds = {name: rule.kind for name, rule in config.alerts.items()}
    assert kinds["job-failed"] == "dead_letter"
    assert kinds["long-running"] == "long_running"
    assert config.alerts["long-running"].longer_than == 1800
    assert config.alerts["backup-missed"].schedule == "backup_database"
    assert config.alerts["backup-missed"].grace == 900
    assert config.alerts["notifications-stalled"].no_success_for == 1800
    assert all(set(r.channels) <= {"ops-mail", "ops-hook"} for r in config.alerts.values())
    mail, hook = config.channels["ops-mail"], config.channels["ops-hook"]
    assert isinstance(mail, EmailChannel) and mail.to == ["library-ops@riverside.example.org"]
    assert isinstance(hook, WebhookChannel) and hook.url == receiver.url  # HOURHAND_CHANNELS
    assert config.smtp is not None and config.smtp.port != 1025  # HOURHAND_SMTP_PORT
    assert hh.settings.retention is not None and hh.settings.retention.completed_days == 14


# -- the eight jobs -----------------------------------------------------------------------
def test_refresh_metadata_updates_stale_books_fills_missing_fields_and_fetches_covers(
    library: Library,
) -> None:
    due = library.domain.query(
        "SELECT id, isbn FROM books WHERE metadata_refreshed_at IS NULL "
        "OR metadata_refreshed_at < ?",
        (iso(now() - timedelta(days=30)),),
    )
    assert len(due) == 40  # 20 never looked up, 20 stale

    result = library.run("refresh_metadata", {"max_age_days": 30}).result

    found = [b for b in due if known(b["isbn"])]
    assert result == {
        "checked": 40,
        "ok": len(found),
        "not_found": 40 - len(found),
        "errors": 0,
    }
    assert library.upstream.requests["book"] == 40
    assert library.upstream.requests["cover"] == len(found)  # every found book got a new cover
    for book in found:
        row = library.domain.one(
            "SELECT b.*, a.path FROM books b JOIN assets a ON a.id = b.cover_asset_id "
            "WHERE b.id = ?",
            (book["id"],),
        )
        assert row is not None and row["metadata_status"] == "ok"
        assert row["page_count"] and row["description"] and row["publisher"]
        assert row["metadata_refreshed_at"] > iso(now() - timedelta(minutes=1))
        assert (library.assets / row["path"]).read_bytes().startswith(b"\xff\xd8")
    assert library.count("SELECT COUNT(*) FROM books WHERE metadata_status = 'not_found'") == (
        40 - len(found)
    )


def test_cleanup_orphans_removes_unreferenced_and_missing_covers_and_stray_files_only(
    library: Library,
) -> None:
    lost = library.domain.one(
        "SELECT b.id, a.path FROM books b JOIN assets a ON a.id = b.cover_asset_id LIMIT 1"
    )
    assert lost is not None
    (library.assets / lost["path"]).unlink()  # a cover whose file disappeared
    used = library.count("SELECT COUNT(*) FROM books WHERE cover_asset_id IS NOT NULL")

    result = library.run("cleanup_orphans").result

    # the seed's 5 replaced covers and 2 rows without a file; 3 stray files
    assert result["orphan_rows"] == 7 and result["stray_files"] == 3
    assert result["missing_files"] == 1 and result["bytes_freed"] > 0
    assert library.count("SELECT COUNT(*) FROM assets") == used - 1
    book = library.domain.one("SELECT cover_asset_id FROM books WHERE id = ?", (lost["id"],))
    assert book == {"cover_asset_id": None}  # refresh_metadata fetches it again
    files = {p.relative_to(library.assets).as_posix() for p in library.assets.rglob("*.jpg")}
    paths = {r["path"] for r in library.domain.query("SELECT path FROM assets")}
    assert files == paths | {"covers/uploading.jpg"}  # too young to be called a stray


def test_expire_sessions_deletes_expired_and_idle_sessions(library: Library) -> None:
    cutoff = (iso(now()), iso(now() - timedelta(days=30)))
    dead = "SELECT COUNT(*) FROM sessions WHERE expires_at < ? OR last_seen_at < ?"
    before, expired = library.count("SELECT COUNT(*) FROM sessions"), library.count(dead, cutoff)
    assert expired == 25

    assert library.run("expire_sessions", {"idle_days": 30}).result == {"deleted": 25}
    assert library.count(dead, cutoff) == 0
    assert library.count("SELECT COUNT(*) FROM sessions") == before - 25


def test_send_notifications_emails_the_queued_notifications(library: Library) -> None:
    queued = library.domain.query(
        "SELECT n.id, m.email FROM notifications n JOIN members m ON m.id = n.member_id "
        "WHERE n.status = 'pending'"
    )
    assert len(queued) == 5

    assert library.run("send_notifications").result == {"sent": 5, "unknown_kind": 0}

    wait_until(lambda: len(library.mailbox.messages) == 5, what="5 e-mails")
    for row in queued:
        (message,) = library.mail_to(row["email"])
        assert message["Subject"] == "New opening hours"
        assert "We now open at 8 on Saturdays." in message.get_content()
        assert "Riverside Library" in message.get_content()
    delivered = "SELECT COUNT(*) FROM notifications WHERE status = 'delivered'"
    wait_until(lambda: library.count(delivered) == 5, what="rows marked delivered")


def test_generate_stats_aggregates_loans_ratings_reading_and_ranks_books(
    library: Library,
) -> None:
    result = library.run("generate_stats", {"window_days": 30}).result

    assert result["books"] == 60 and result["members"] == 40
    stats = {r["book_id"]: r for r in library.domain.query("SELECT * FROM book_stats")}
    assert len(stats) == 60
    assert sorted(r["popularity_rank"] for r in stats.values()) == list(range(1, 61))
    top = max(stats.values(), key=lambda r: r["popularity"])
    assert top["popularity_rank"] == 1 and result["most_popular"][0] == top["book_id"]
    since = iso(now() - timedelta(days=30))
    for book_id in list(stats)[:10]:
        recent = library.count(
            "SELECT COUNT(*) FROM loans WHERE book_id = ? AND borrowed_at >= ?", (book_id, since)
        )
        ratings = library.domain.one(
            "SELECT COUNT(*) AS n, AVG(stars) AS avg FROM ratings WHERE book_id = ?", (book_id,)
        )
        assert ratings is not None
        row = stats[book_id]
        assert (row["loans_30d"], row["ratings_count"]) == (recent, ratings["n"])
        assert row["avg_rating"] == (None if ratings["avg"] is None else round(ratings["avg"], 2))
    member = library.domain.one(
        "SELECT member_id, pages_30d, open_loans FROM member_stats ORDER BY pages_30d DESC LIMIT 1"
    )
    assert member is not None
    pages = library.count(
        "SELECT COALESCE(SUM(pages), 0) FROM reading_sessions WHERE member_id = ? AND read_at >= ?",
        (member["member_id"], since),
    )
    assert member["pages_30d"] == pages > 0
    assert library.count("SELECT COUNT(*) FROM member_stats") == 40


def test_backup_database_writes_an_sqlite_copy_with_the_same_rows_and_keeps_the_newest(
    library: Library,
) -> None:
    library.backups.mkdir()
    for day in range(1, 6):  # older backups, and a file that is not one
        (library.backups / f"library-2020010{day}T020000Z.sqlite3").write_bytes(b"old")
    (library.backups / "notes.txt").write_text("keep me")

    result = library.run("backup_database", {"keep": 3}).result

    copy = library.backups / result["file"]
    assert result["kept"] == 3 and result["bytes"] == copy.stat().st_size
    assert result["removed"] == [f"library-2020010{d}T020000Z.sqlite3" for d in (1, 2, 3)]
    assert sorted(p.name for p in library.backups.iterdir()) == sorted(
        [
            result["file"],
            "library-20200104T020000Z.sqlite3",
            "library-20200105T020000Z.sqlite3",
            "notes.txt",
        ]
    )
    live = sqlite3.connect(sqlite_path(library.domain.url))
    backup = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert backup.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        for table in (*TABLES, "hourhand_schedules"):
            query = f"SELECT COUNT(*) FROM {table}"
            assert backup.execute(query).fetchone() == live.execute(query).fetchone(), table
    finally:
        backup.close()
        live.close()


def test_refresh_tokens_renews_expiring_tokens_and_revokes_the_refused_ones(
    library: Library,
) -> None:
    soon = iso(now() + timedelta(hours=7))
    due = library.domain.query(
        "SELECT id, access_token, refresh_token FROM oauth_tokens WHERE expires_at < ?", (soon,)
    )
    refused = [t for t in due if t["refresh_token"].startswith(REVOKED_PREFIX)]
    assert len(due) == 10 and len(refused) == 4

    result = library.run("refresh_tokens", {"within_hours": 7}).result

    assert result == {"due": 10, "refreshed": 6, "revoked": 4, "failed": 0}
    assert library.upstream.requests["token"] == 10
    for token in due:
        row = library.domain.one("SELECT * FROM oauth_tokens WHERE id = ?", (token["id"],))
        assert row is not None
        if token in refused:
            assert row["status"] == "revoked" and row["access_token"] == token["access_token"]
        else:
            assert row["status"] == "active" and row["access_token"] != token["access_token"]
            assert row["expires_at"] > iso(now() + timedelta(hours=23))
    active = "SELECT COUNT(*) FROM oauth_tokens WHERE status = 'active' AND expires_at < ?"
    assert library.count(active, (soon,)) == 0
    # the members whose link was refused are asked to link again
    wait_until(lambda: library.subjects().count("Please reconnect your Bookshelf account") == 4)


def test_loan_reminders_fires_on_its_schedule_fines_overdue_loans_and_emails_members(
    library: Library,
) -> None:
    hh = library.hh
    at = now()
    open_loans = "SELECT l.*, m.email FROM loans l JOIN members m ON m.id = l.member_id "
    soon = library.domain.query(
        open_loans + "WHERE returned_at IS NULL AND due_at >= ? AND due_at < ?",
        (iso(at), iso(at + timedelta(days=2))),
    )
    late = library.domain.query(open_loans + "WHERE returned_at IS NULL AND due_at < ?", (iso(at),))
    assert len(soon) == 10 and len(late) == 10
    schedule = hh.schedules.find("loan_reminders")
    *_, nine = takewhile(lambda t: t <= at, schedule.parsed.fires(at - timedelta(days=2)))
    assert nine.astimezone(ZoneInfo("Europe/London")).hour == 9
    hh.store.update_schedule(schedule.id, {"next_fire_at": nine})

    (job_id,) = hh.scheduler().tick(nine + timedelta(seconds=1))  # its 09:00 came

    job = hh.wait(job_id, timeout=WAIT)
    assert job.state == JobState.COMPLETED and job.schedule_id == schedule.id
    assert job.result == {
        "due_soon": 10,
        "overdue": 10,
        "overdue_notices": 10,
        "fines_cents": job.result["fines_cents"],
        "holds_ready": 3,
    }
    fines = 0
    for loan in late:
        row = library.domain.one("SELECT fine_cents FROM loans WHERE id = ?", (loan["id"],))
        days = math.ceil((at - parse(loan["due_at"])) / timedelta(days=1))
        assert row == {"fine_cents": min(25 * days, 1000)}
        fines += min(25 * days, 1000)
    assert job.result["fines_cents"] == fines
    # the held books' pickup windows end in a week: one delayed job each
    expiries = hh.list_jobs(name="expire_hold")
    assert len(expiries) == 3 and {j.state for j in expiries} == {JobState.SCHEDULED}
    assert all(j.run_at > datetime.now(j.run_at.tzinfo) + timedelta(days=6) for j in expiries)
    # loan_reminders woke send_notifications: 23 e-mails, and the 5 queued before
    wait_until(lambda: len(library.mailbox.messages) == 28, what="28 e-mails")
    for loan in soon:
        assert any(m["Subject"].startswith("Reminder: ") for m in library.mail_to(loan["email"]))
    for loan in late:
        (notice,) = [
            m for m in library.mail_to(loan["email"]) if m["Subject"].startswith("Overdue")
        ]
        assert "The fine so far is $" in notice.get_content()
    assert library.subjects().count("New opening hours") == 5


def test_expire_hold_hands_an_uncollected_hold_to_the_next_member(library: Library) -> None:
    hold = library.domain.one(
        "SELECT id, book_id FROM holds WHERE status = 'ready' AND pickup_by < ?", (iso(now()),)
    )
    assert hold is not None
    waiting = library.domain.insert(
        "holds",
        {"book_id": hold["book_id"], "member_id": 1, "placed_at": iso(now()), "status": "waiting"},
    )

    result = library.run("expire_hold", {"hold_id": hold["id"]}).result

    assert result == {"expired": True, "next_hold": waiting}
    statuses = library.domain.query(
        "SELECT id, status FROM holds WHERE id IN (?, ?) ORDER BY id", (hold["id"], waiting)
    )
    assert [r["status"] for r in statuses] == ["expired", "ready"]


# -- alerts -----------------------------------------------------------------------------------
def test_a_failing_backup_alerts_the_webhook_and_the_mailbox(
    alerting: Library, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    library, hh = alerting, alerting.hh
    blocked = library.backups.parent / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("LIBRARY_BACKUP_DIR", str(blocked))
    schedule = hh.schedules.find("backup_database")

    job_id = hh.schedules.trigger(schedule.id)  # "run now" from the dashboard or the API

    wait_until(lambda: hh.get_job(job_id).state == JobState.RETRYING, what="a failed attempt")
    hh.scheduler().evaluate_alerts(hh.store.now(), force=True)
    wait_until(lambda: receiver.requests, what="the webhook")
    posted = [json.loads(body) for _, body in receiver.requests]
    assert [(p["rule"], p["state"], p["severity"]) for p in posted] == [
        ("backup-failing", "firing", "critical")
    ]
    assert "FileExistsError" in posted[0]["details"]["last_error"]
    wait_until(lambda: library.mailbox.messages, what="the alert e-mail")
    ((to, message),) = library.mailbox.messages
    assert to == ["library-ops@riverside.example.org"]
    assert message["Subject"].startswith("[library] [CRITICAL] backup-failing: ")


def test_a_missed_backup_opens_an_alert(alerting: Library, receiver: Receiver) -> None:
    hh = alerting.hh
    schedule = hh.schedules.find("backup_database")
    missed = hh.store.now() - timedelta(hours=1)  # 02:00 passed an hour ago, no scheduler ran
    hh.store.update_schedule(schedule.id, {"next_fire_at": missed})

    hh.scheduler().evaluate_alerts(hh.store.now(), force=True)

    firing = [a for a in hh.ops.alerts.list(Actor.cli(), state="firing")]
    assert [a.rule for a in firing] == ["backup-missed"]
    wait_until(lambda: receiver.requests, what="the webhook")
    assert json.loads(receiver.requests[0][1])["rule"] == "backup-missed"


def test_a_job_running_over_half_an_hour_alerts_the_webhook(
    alerting: Library, receiver: Receiver
) -> None:
    hh = alerting.hh
    alerting.upstream.open.clear()  # the catalogue hangs: refresh_metadata keeps running
    job_id = hh.enqueue("refresh_metadata", {})
    try:
        wait_until(lambda: hh.get_job(job_id).state == JobState.RUNNING, what="running")
        later = hh.store.now() + timedelta(minutes=31)

        hh.scheduler().evaluate_alerts(later, force=True)

        def slow() -> list[dict[str, Any]]:
            posted = [json.loads(body) for _, body in receiver.requests]
            return [p for p in posted if p["rule"] == "long-running"]

        (alert,) = wait_until(slow, what="the long-running alert")
        assert alert["state"] == "firing" and alert["severity"] == "warning"
        assert "refresh_metadata" in alert["summary"]
    finally:
        alerting.upstream.open.set()
    assert hh.wait(job_id, timeout=WAIT).state == JobState.COMPLETED


# -- phase 7: the admin's custom jobs ---------------------------------------------------------
def test_an_admin_schedules_a_custom_job_with_parameters_through_the_api_and_it_runs(
    library: Library,
) -> None:
    hh = library.hh
    keys = {
        role: hh.ops.keys.create(Actor.app("tests"), role, role)[1]
        for role in ("admin", "operator")
    }

    with TestClient(hh.asgi_app()) as client:

        def call(method: str, path: str, who: str = "admin", **kw: Any) -> Any:
            return client.request(
                method, path, headers={"Authorization": f"Bearer {keys[who]}"}, **kw
            )

        types = {t["name"]: t for t in call("GET", "/v1/job-types").json()}
        schema = types["announce"]["schema"]
        assert schema["required"] == ["audience", "subject", "message"]
        assert schema["properties"]["audience"]["enum"] == ["all", "borrowers", "overdue", "holds"]
        assert set(types["member-message"]["schema"]["properties"]) == {
            "email",
            "subject",
            "message",
            "signature",
        }
        args = {
            "audience": "borrowers",
            "subject": "Closed 24-26 December",
            "message": "Loans due then are due on the 27th.",
        }
        body = {
            "name": "holiday-closure",
            "job": "announce",
            "cron": "0 8 20 12 *",
            "tz": "Europe/London",
            "args": args,
        }
        wrong = {**body, "args": {**args, "audience": "everyone"}}
        refused = call("POST", "/v1/schedules", json=wrong)
        assert refused.status_code == 400, refused.text
        assert "audience" in refused.json()["error"]["message"]
        made = call("POST", "/v1/schedules", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["source"] == "user"

        run = call("POST", f"/v1/schedules/{made.json()['id']}/trigger?wait=10").json()
        borrowers = library.count(
            "SELECT COUNT(DISTINCT member_id) FROM loans WHERE returned_at IS NULL"
        )
        assert run["state"] == "completed" and run["result"] == {"queued": borrowers}

        message = {
            "type": "member-message",
            "args": {
                "email": "ada@members.example.org",
                "subject": "Your card",
                "message": "Your new card is ready.",
            },
        }
        sent = call("POST", "/v1/jobs?wait=10", "operator", json=message).json()
        assert sent["state"] == "completed", sent

    # the 5 queued before go out with the announcements (send_notifications was woken)
    wait_until(lambda: len(library.mailbox.messages) == borrowers + 6, what="the e-mails")
    assert library.subjects().count("Closed 24-26 December") == borrowers
    (card,) = library.mail_to("ada@members.example.org")
    assert card["Subject"] == "Your card"
    assert "Your new card is ready.\n\nRiverside Library" in card.get_content().replace(
        "\r\n", "\n"
    )


# -- PostgreSQL: the same jobs, and pg_dump ----------------------------------------------
def test_on_postgresql_every_job_runs_and_backup_database_writes_a_pg_dump_archive(
    make_library: Callable[..., Library], pg_base_url: str
) -> None:
    reset_postgres(pg_base_url)
    library = make_library(None, pg_base_url)
    results = {name: library.run(name, {}).result for name in SEED_SCHEDULES}

    assert results["expire_sessions"] == {"deleted": 25}
    assert (
        results["refresh_metadata"]["checked"] == 40 and results["refresh_metadata"]["errors"] == 0
    )
    assert library.count("SELECT COUNT(*) FROM books WHERE metadata_status = 'pending'") == 0
    # (after refresh_metadata, whose new covers leave the old ones orphaned too)
    assert results["cleanup_orphans"]["orphan_rows"] >= 7
    assert results["cleanup_orphans"]["stray_files"] == 3
    assert results["send_notifications"] == {"sent": 5, "unknown_kind": 0}
    assert results["refresh_tokens"]["refreshed"] == 6
    assert results["loan_reminders"]["overdue"] == 10
    assert results["generate_stats"]["books"] == 60
    assert library.count("SELECT COUNT(*) FROM book_stats") == 60
    archive = library.backups / results["backup_database"]["file"]
    assert archive.suffix == ".dump"
    listing = subprocess.run(
        [find_bin("pg_restore"), "--list", str(archive)], capture_output=True, text=True, check=True
    ).stdout
    for table in (*TABLES, "hourhand_jobs"):
        assert f"TABLE DATA public {table} " in listing, table
