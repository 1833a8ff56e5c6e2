"""examples/homes (seed 004, MujDomecek's Hangfire jobs): every job run once against
generated data on SQLite and PostgreSQL, its effect checked in the domain tables, the
object store, the mailbox (a real SMTP server) or the webhook receiver; the seed's
schedules, retry delays and alert rules; the web app's /hangfire, /health/jobs and the
export link; and two `hourhand serve --no-web` replicas firing each recurring job once."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from examples.common.domain import Domain, iso, now
from examples.homes import auth, storage
from examples.homes.app import CONFIG, hh
from examples.homes.jobs.sync import configured_delays, record_failure
from examples.homes.seed import ADMIN_EMAIL, generate
from examples.homes.web import create_web
from fastapi.testclient import TestClient

from hourhand import Hourhand, Job, Retry
from hourhand.cron import Cron
from hourhand.ops import Actor
from tests.conftest import REPO, WorkerThread, reset_postgres, subprocess_env, wait_until
from tests.support.servers import Mailbox, Receiver, free_port

EXAMPLE = REPO / "examples" / "homes"
ADMIN_PASSWORD = "a passphrase for the tests"
TZ = "Europe/Prague"
CHECKS = {"database", "migrations", "workers", "scheduler", "queue_latency", "failures"}
# the seed's four metrics, as hourhand's /metrics names them (prefixed hourhand_)
METRICS = (
    "job_execution_duration_seconds",
    "job_execution_total",
    "job_failures_total",
    "job_queue_length",
)
DAY = timedelta(days=1)
RECURRING = {  # the seed's appsettings: name -> (CronSchedule, settings)
    "DraftCleanup": (
        "0 3 * * *",
        {"warning_days_before_delete": 7, "delete_after_days": 30, "batch_size": 100},
    ),
    "DraftReminder": (
        "0 10 * * *",
        {
            "reminder_after_days": 3,
            "expiration_warning_days": 7,
            "delete_after_days": 30,
            "batch_size": 500,
        },
    ),
    "InvitationExpiration": ("0 4 * * *", {"batch_size": 200}),
    "ActivityCleanup": ("0 2 * * 0", {"retention_days": 90, "batch_size": 1000}),
    "NotificationCleanup": (
        "0 2 * * 0",
        {"retention_days_read": 30, "retention_days_unread": 90, "batch_size": 1000},
    ),
    "RefreshTokenCleanup": ("0 5 * * *", {"batch_size": 500}),
    "WeeklySummaryEmail": ("0 9 * * 1", {"batch_size": 100}),
    "SyncRetry": (
        "*/5 * * * *",
        {"max_retries": 5, "retry_delay_minutes": [5, 15, 60, 240, 1440], "batch_size": 50},
    ),
}


@dataclass
class Homes:
    hh: Hourhand
    d: Domain
    mailbox: Mailbox

    def run(self, name: str) -> Job:
        """Run a recurring job now (its schedule triggered: its settings as arguments)."""
        schedule = self.hh.schedules.find(name)
        job = self.hh.wait(self.hh.schedules.trigger(schedule.id), timeout=15)
        assert job.state == "completed", job.error
        return job

    def mails(self, count: int) -> list[Any]:
        """The e-mails, once ``count`` SendEmailJob jobs have completed."""

        def sent() -> bool:
            jobs = self.hh.list_jobs(name="SendEmailJob")
            return len(jobs) >= count and all(j.state == "completed" for j in jobs)

        wait_until(sent, timeout=15, what=f"{count} e-mails sent")
        assert len(self.hh.list_jobs(name="SendEmailJob")) == count
        return [message for _, message in self.mailbox.messages]

    def ids(self, sql: str, params: tuple[Any, ...] = ()) -> set[int]:
        return {int(r["id"]) for r in self.d.query(sql, params)}


@pytest.fixture
def homes(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: tuple[Any, Mailbox],
    app_workers: Callable[..., WorkerThread],
) -> Iterator[Homes]:
    """The example's app on a fresh database of each kind with generated data, the SMTP
    server of the test, and a worker."""
    settings, box = smtp
    for name, value in env(tmp_path, settings.port).items():
        monkeypatch.setenv(name, value)
    hh.database_url = store_url
    hh.load_config(CONFIG)  # again: the SMTP server of this test
    generate(store_url, admin_password=ADMIN_PASSWORD)
    hh.migrate()  # the config schedules into the database
    worker = app_workers(hh, poll_interval=0.05, concurrency=4)
    try:
        yield Homes(hh, Domain(store_url), box)
    finally:
        worker.stop()  # before the app closes its database
        hh.close()


def env(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return {
        "HOMES_STORAGE": str(tmp_path / "storage"),
        "HOMES_BASE_URL": "http://testserver",
        "HOURHAND_SMTP_HOST": "127.0.0.1",
        "HOURHAND_SMTP_PORT": str(smtp_port),
    }


def to_receiver(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> dict[str, str]:
    """The sync service and the Slack channel pointed at the webhook receiver."""
    slack = {"kind": "webhook", "format": "slack", "url": receiver.url}
    variables = {"HOMES_SYNC_URL": receiver.url, "HOURHAND_CHANNELS": json.dumps({"slack": slack})}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


@pytest.fixture
def configured_app(store_url: str) -> Iterator[Hourhand]:
    """The example's app with its hourhand.toml, on a fresh database of each kind."""
    hh.database_url = store_url
    hh.load_config(CONFIG)
    hh.migrate()
    try:
        yield hh
    finally:
        hh.close()


def test_the_seeds_schedules_kind_and_alert_rules_are_loaded_as_configured(
    configured_app: Hourhand,
) -> None:
    app = configured_app
    schedules = {s.name: s for s in app.schedules.list() if s.name in RECURRING}
    assert set(schedules) == set(RECURRING)
    for name, (cron, settings) in RECURRING.items():
        s = schedules[name]
        assert (s.job, s.cron, s.tz, s.enabled, s.misfire) == (name, cron, TZ, True, "once")
        assert s.args == settings, name
    email = app.registry["SendEmailJob"]  # Email: RetryCount 3, RetryDelaySeconds 30
    assert (email.max_attempts, email.retry) == (4, Retry.fixed([30]))
    alerting = app.settings.alerting
    rules = {n: (r.kind, r.severity, r.channels) for n, r in alerting.alerts.items()}
    assert rules == {
        "job-fails-3x": ("failures_in_a_row", "critical", ["admin-mail"]),
        "queue-over-1000": ("queue_backlog", "warning", ["slack"]),
        "job-runs-over-10-min": ("long_running", "warning", ["log"]),
    }
    three, backlog, slow = alerting.alerts.values()
    assert (three.count, backlog.ready_above, slow.longer_than) == (3, 1000, 600)
    mail, slack, log = (alerting.channels[n] for n in ("admin-mail", "slack", "log"))
    assert mail.kind == "email" and mail.to == ["admin@mujdomecek.cz"]
    assert slack.kind == "webhook" and slack.format == "slack"
    assert log.kind == "log" and log.level == "warning"


def test_an_e_mail_the_server_refuses_is_retried_30_seconds_later_up_to_3_times(
    configured_app: Hourhand,
    app_workers: Callable[..., WorkerThread],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOURHAND_SMTP_PORT", str(free_port()))  # nobody listens there
    app = configured_app
    app.load_config(CONFIG)
    app_workers(app, poll_interval=0.05)
    variables = {"inviter": "Jana", "target": "Chalupa", "link": "https://x"}
    args = {"to": "ana@example.cz", "template": "invitation", "subject": "Pozvánka"}
    job_id = app.enqueue("SendEmailJob", {**args, "variables": variables})
    job = wait_until(lambda: (j := app.get_job(job_id)).state == "retrying" and j, timeout=15)
    [attempt] = app.attempts(job_id)
    assert attempt.error is not None and "EmailFailed: SMTP server 127.0.0.1" in attempt.error
    wait = (job.run_at - attempt.finished_at).total_seconds()
    assert (job.attempt, job.max_attempts) == (1, 4) and 29 < wait <= 30.5


def test_every_recurring_job_runs_once_and_does_what_the_seed_says(homes: Homes) -> None:
    """In the order of the seed's week: Sunday 2:00, every night at 3:00, 4:00 and 5:00,
    Monday 9:00 and 10:00 (SyncRetry has a test of its own)."""
    activity_and_notification_cleanup(homes)
    draft_cleanup(homes)
    invitation_expiration(homes)
    refresh_token_cleanup(homes)
    weekly_summary_email(homes)
    draft_reminder(homes)


def activity_and_notification_cleanup(homes: Homes) -> None:
    d, t = homes.d, now()
    recent = homes.ids("SELECT id FROM activities WHERE created_at >= ?", (iso(t - 89 * DAY),))
    assert d.query("SELECT id FROM activities WHERE created_at < ?", (iso(t - 90 * DAY),))
    job = homes.run("ActivityCleanup")
    assert not d.query("SELECT id FROM activities WHERE created_at < ?", (iso(t - 90 * DAY),))
    assert recent and recent <= homes.ids("SELECT id FROM activities")
    assert job.result is not None and job.result["deleted"] > 0

    old = "(is_read = 1 AND created_at < ?) OR (is_read = 0 AND created_at < ?)"
    kept = homes.ids(
        "SELECT id FROM notifications WHERE (is_read = 1 AND created_at >= ?)"
        " OR (is_read = 0 AND created_at >= ?)",
        (iso(t - 29 * DAY), iso(t - 89 * DAY)),
    )
    homes.run("NotificationCleanup")
    assert not d.query(
        f"SELECT id FROM notifications WHERE {old}", (iso(now() - 30 * DAY), iso(now() - 90 * DAY))
    )
    assert kept and kept <= homes.ids("SELECT id FROM notifications")


def draft_cleanup(homes: Homes) -> None:
    d, t = homes.d, now()
    old = "status = 'draft' AND created_at < ?"
    old_drafts = homes.ids(
        f"SELECT id FROM zaznamy WHERE is_deleted = 0 AND {old}", (iso(t - 30 * DAY),)
    )
    assert 0 < len(old_drafts) <= 100  # one batch
    keys = [r["storage_key"] for r in d.query("SELECT storage_key FROM documents")]
    old_docs = d.query(
        f"SELECT id, storage_key FROM documents WHERE zaznam_id IN (SELECT id FROM zaznamy"
        f" WHERE {old})",
        (iso(t - 30 * DAY),),
    )
    assert old_docs and all(storage.exists(k) for k in keys)
    job = homes.run("DraftCleanup")
    assert job.result == {"deleted": len(old_drafts), "documents": len(old_docs)}
    assert (
        homes.ids("SELECT id FROM zaznamy WHERE is_deleted = 1 AND deleted_at IS NOT NULL")
        == old_drafts
    )  # soft-deleted, and nothing else
    assert homes.ids("SELECT id FROM documents WHERE is_deleted = 1") == {
        int(r["id"]) for r in old_docs
    }
    gone = {r["storage_key"] for r in old_docs}
    assert not any(storage.exists(k) for k in gone)  # deleted from the object store
    assert all(storage.exists(k) for k in keys if k not in gone)


def invitation_expiration(homes: Homes) -> None:
    d = homes.d
    expired = homes.ids(
        "SELECT id FROM invitations WHERE status = 'pending' AND expires_at < ?", (iso(now()),)
    )
    valid = homes.ids(
        "SELECT id FROM invitations WHERE status = 'pending' AND expires_at > ?",
        (iso(now() + DAY),),
    )
    assert expired and valid
    job = homes.run("InvitationExpiration")
    assert job.result == {"expired": len(expired)}
    assert homes.ids("SELECT id FROM invitations WHERE status = 'expired'") == expired
    assert valid <= homes.ids("SELECT id FROM invitations WHERE status = 'pending'")
    notes = _payloads(d, "invitation_expired")
    assert {int(n["invitationId"]) for n in notes} == expired
    for note in notes:  # to whoever sent it, naming whom and what to
        row = d.one(
            "SELECT i.created_by, i.email, p.name FROM invitations i"
            " JOIN properties p ON p.id = i.target_id WHERE i.id = ?",
            (int(note["invitationId"]),),
        )
        assert row is not None
        assert (note["user_id"], note["email"], note["targetType"], note["targetName"]) == (
            row["created_by"],
            row["email"],
            "property",
            row["name"],
        )


def refresh_token_cleanup(homes: Homes) -> None:
    d, t = homes.d, now()
    kept = homes.ids(
        "SELECT id FROM refresh_tokens WHERE expires_at > ?"
        " AND (revoked_at IS NULL OR revoked_at > ?)",
        (iso(t + DAY), iso(t - 6 * DAY)),
    )
    revoked_lately = homes.ids(
        "SELECT id FROM refresh_tokens WHERE revoked_at > ?", (iso(t - 6 * DAY),)
    )
    assert kept and revoked_lately
    job = homes.run("RefreshTokenCleanup")
    assert job.result is not None and job.result["expired"] > 0 and job.result["revoked"] > 0
    assert not d.query(
        "SELECT id FROM refresh_tokens WHERE expires_at < ? OR revoked_at < ?",
        (iso(now()), iso(now() - 7 * DAY)),
    )
    assert kept | revoked_lately <= homes.ids("SELECT id FROM refresh_tokens")


def weekly_summary_email(homes: Homes) -> None:
    d, t = homes.d, now()
    wanted = {
        r["email"]: r
        for r in d.query("SELECT id, name, email, preferences FROM users")
        if _json(r["preferences"])["emailWeeklySummary"]
    }
    job = homes.run("WeeklySummaryEmail")
    assert job.result is not None and job.result["users"] == len(wanted)
    assert job.result["sent"] > 0
    mails = homes.mails(job.result["sent"])
    for message in mails:
        user = wanted[message["To"]]  # only those who asked for it
        body = text(message)
        assert message["Subject"] == "Váš týdenní souhrn z MujDomecek"
        assert message["From"] == "MujDomecek <noreply@mujdomecek.cz>"
        assert body.startswith(f"Dobrý den {user['name']},\n")
        created = d.query(
            "SELECT COUNT(*) AS n FROM zaznamy WHERE author_id = ? AND created_at >= ?",
            (user["id"], iso(t - 7 * DAY)),
        )[0]["n"]
        assert f"- Vytvořeno záznamů: {created}\n" in body
        assert "📊 VAŠE AKTIVITA" in body and "👥 AKTIVITA NA SDÍLENÝCH NEMOVITOSTECH" in body
        drafts = d.query(
            "SELECT COUNT(*) AS n FROM zaznamy WHERE author_id = ? AND status = 'draft'"
            " AND is_deleted = 0",
            (user["id"],),
        )[0]["n"]
        assert (f"- Máte {drafts} rozpracovaných záznamů\n" in body) == (drafts > 0)
        assert body.rstrip().endswith("Tento email můžete vypnout v Nastavení → Notifikace.")
    assert any(" nových záznamů\n" in text(m) for m in mails)  # the {#each} loop


def draft_reminder(homes: Homes) -> None:
    d, t = homes.d, now()
    drafts = "SELECT id FROM zaznamy WHERE status = 'draft' AND is_deleted = 0 AND created_at < ?"
    reminded = homes.ids(drafts, (iso(t - 3 * DAY),))
    expiring = homes.ids(drafts, (iso(t - 23 * DAY),))
    assert reminded and expiring
    before = len(homes.hh.list_jobs(name="SendEmailJob"))
    job = homes.run("DraftReminder")
    assert job.result == {"reminders": len(reminded), "expiring": len(expiring)}
    assert {int(n["zaznamId"]) for n in _payloads(d, "draft_reminder")} == reminded
    warnings = _payloads(d, "draft_expiring")
    assert {int(n["zaznamId"]) for n in warnings} == expiring
    assert all(1 <= n["daysRemaining"] <= 7 for n in warnings)
    mails = homes.mails(before + len(expiring))[before:]
    authors = {
        r["email"]
        for r in d.query(
            "SELECT u.email FROM zaznamy z JOIN users u ON u.id = z.author_id WHERE z.id IN"
            f" ({', '.join(str(i) for i in expiring)})"
        )
    }
    assert {m["Subject"] for m in mails} == {"Váš rozpracovaný záznam bude smazán"}
    assert {m["To"] for m in mails} == authors
    assert all("bude za" in text(m) for m in mails)
    again = homes.run("DraftReminder")  # nobody is reminded twice
    assert again.result == {"reminders": 0, "expiring": 0}


def text(message: Any) -> str:
    """An e-mail's text as written (the SMTP server's line ends are CRLF)."""
    return str(message.get_content()).replace("\r\n", "\n")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _payloads(d: Domain, kind: str) -> list[dict[str, Any]]:
    rows = d.query("SELECT user_id, payload FROM notifications WHERE type = ? ORDER BY id", (kind,))
    return [{"user_id": r["user_id"], **_json(r["payload"])} for r in rows]


def test_sync_retry_sends_due_items_and_backs_off_5_15_60_240_1440_minutes(
    homes: Homes, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    to_receiver(monkeypatch, receiver)
    d, t = homes.d, now()
    due = homes.ids(
        "SELECT id FROM sync_queue WHERE status = 'failed' AND next_retry_at <= ?", (iso(t),)
    )
    later = homes.ids("SELECT id FROM sync_queue WHERE next_retry_at > ?", (iso(t),))
    assert due and later
    job = homes.run("SyncRetry")
    assert job.result == {"synced": len(due), "retried": 0, "permanently_failed": 0}
    posted = {json.loads(body)["id"] for _, body in receiver.requests}
    assert posted == due  # the sync service got each due item
    assert homes.ids("SELECT id FROM sync_queue") == later  # and they left the queue

    # A change whose first sync fails is due 5 minutes later, then 15, 60, 240, 1440.
    delays = configured_delays()
    assert delays == [5, 15, 60, 240, 1440]
    d.execute("DELETE FROM sync_queue")
    user = d.query("SELECT id FROM users ORDER BY id LIMIT 1 OFFSET 1")[0]["id"]
    before = now()
    item = record_failure(d, user, "zaznam", 1, "update", {"title": "x"}, "HTTP 503", delays)
    row = d.one("SELECT next_retry_at FROM sync_queue WHERE id = ?", (item,))
    assert row is not None
    _near(row["next_retry_at"], before, delays[0])
    receiver.status = 503
    for count, minutes in enumerate([15, 60, 240, 1440, 1440], start=1):
        d.execute("UPDATE sync_queue SET next_retry_at = ?", (iso(now() - DAY),))  # due now
        before = now()
        homes.run("SyncRetry")
        row = d.one("SELECT * FROM sync_queue WHERE id = ?", (item,))
        assert row is not None and row["retry_count"] == count
        assert row["last_error"] == "HTTP 503 from the sync service"
        assert row["status"] == ("permanently_failed" if count == 5 else "failed")
        if count < 5:
            _near(row["next_retry_at"], before, minutes)
    d.execute("UPDATE sync_queue SET next_retry_at = ?", (iso(now() - DAY),))
    assert homes.run("SyncRetry").result == {"synced": 0, "retried": 0, "permanently_failed": 0}
    [note] = _payloads(d, "sync_failed")  # the user is told once
    error = "HTTP 503 from the sync service"
    assert (note["user_id"], note["syncId"], note["error"]) == (user, str(item), error)


def _near(stored: str, before: datetime, minutes: int) -> None:
    at = datetime.fromisoformat(stored)
    low = before + timedelta(minutes=minutes)
    assert low <= at <= now() + timedelta(minutes=minutes), (stored, minutes)


def test_an_export_is_a_zip_of_the_users_data_mailed_as_a_link_valid_24_hours(
    homes: Homes,
) -> None:
    d = homes.d
    owner = d.query(
        "SELECT author_id AS id, COUNT(*) AS n FROM documents d JOIN zaznamy z ON z.id ="
        " d.zaznam_id WHERE z.is_deleted = 0 GROUP BY author_id ORDER BY COUNT(*) DESC, author_id"
    )[0]["id"]
    user = d.one("SELECT id, name, email FROM users WHERE id = ?", (owner,))
    assert user is not None
    token = auth.issue_token(d, owner)
    with TestClient(create_web(homes.hh)) as client:
        answer = client.post(
            "/api/users/me/export",
            json={"format": "json"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text
        job = homes.hh.wait(answer.json()["jobId"], timeout=15)
        assert job.state == "completed", job.error
        assert client.post("/api/users/me/export", json={}).status_code == 401
        [mail] = homes.mails(1)
        assert mail["To"] == user["email"]
        assert mail["Subject"] == "Váš export dat z MujDomecek je připraven"
        body = text(mail)
        assert "Platnost odkazu: 24 hodin" in body and "Velikost: " in body
        link = body.split("[Stáhnout export](", 1)[1].split(")", 1)[0]
        assert link.startswith("http://testserver/api/exports/")
        download = client.get(link.removeprefix("http://testserver"))
        assert download.status_code == 200
        assert client.get(link.removeprefix("http://testserver") + "0").status_code == 403
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    tables = "profile projects properties units zaznamy comments documents contacts notifications"
    assert {f"{t}.json" for t in tables.split()} <= names
    [profile] = json.loads(archive.read("profile.json"))
    assert (profile["email"], profile["name"]) == (user["email"], user["name"])
    assert "password_hash" not in profile
    zaznamy = json.loads(archive.read("zaznamy.json"))
    assert {z["id"] for z in zaznamy} == homes.ids(
        "SELECT id FROM zaznamy WHERE author_id = ? AND is_deleted = 0", (owner,)
    )
    documents = json.loads(archive.read("documents.json"))
    assert documents
    for doc in documents:  # the photos themselves (IncludePhotos)
        data = archive.read(f"documents/{doc['id']}-{doc['file_name']}")
        assert data == storage.path_of(doc["storage_key"]).read_bytes()
    row = d.one("SELECT size_bytes, expires_at FROM exports WHERE user_id = ?", (owner,))
    assert row is not None and row["size_bytes"] == len(download.content)
    hours = (datetime.fromisoformat(row["expires_at"]) - now()) / timedelta(hours=1)
    assert 23.9 < hours <= 24


def test_hangfire_is_for_admins_only_and_health_jobs_answers_the_checks(homes: Homes) -> None:
    d = homes.d
    user = d.query("SELECT id FROM users WHERE is_admin = 0 ORDER BY id LIMIT 1")[0]["id"]
    user_token = auth.issue_token(d, user)
    homes.run("ActivityCleanup")  # something for the metrics
    with TestClient(create_web(homes.hh)) as client:
        assert client.get("/hangfire/").status_code == 401
        client.cookies.set(auth.SESSION_COOKIE, user_token)
        refused = client.get("/hangfire/")  # signed in, but no admin
        assert refused.status_code == 403 and "for administrators" in refused.text
        client.cookies.clear()
        refused = client.post("/login", data={"email": ADMIN_EMAIL, "password": "wrong"})
        assert refused.status_code == 401
        signed_in = client.post(
            "/login",
            data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/hangfire/"
        page = client.get("/hangfire/")
        assert page.status_code == 200 and "ActivityCleanup" in page.text
        schedules = client.get("/hangfire/schedules")
        assert schedules.status_code == 200 and "WeeklySummaryEmail" in schedules.text

        health = client.get("/health/jobs")  # as the admin: descriptions and numbers
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "Degraded"  # a worker, but no scheduler runs in this test
        checks = body["checks"]
        assert set(checks) == CHECKS
        assert checks["workers"]["status"] == "Healthy" and checks["workers"]["description"]
        assert checks["scheduler"]["status"] == "Degraded"
        assert all(c["tags"] == ["jobs"] for c in checks.values())
        client.cookies.clear()
        anonymous = client.get("/health/jobs").json()
        assert anonymous["status"] == "Degraded"
        assert all(set(c) == {"status", "tags"} for c in anonymous["checks"].values())

        _, key = homes.hh.ops.keys.create(Actor.app("tests"), "prometheus", "viewer", None)
        metrics = client.get("/hourhand/metrics", headers={"Authorization": f"Bearer {key}"})
        assert metrics.status_code == 200
        text = metrics.text
        for name in METRICS:
            assert f"\nhourhand_{name}" in text, name
        assert 'hourhand_job_execution_total{queue="default",type="ActivityCleanup"} 1.0' in text


def test_three_failures_in_a_row_mail_the_admin_and_a_backlog_over_1000_goes_to_slack(
    homes: Homes, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    to_receiver(monkeypatch, receiver)
    homes.hh.load_config(CONFIG)  # the Slack channel of HOURHAND_CHANNELS
    for _ in range(3):  # a user that does not exist: the export fails for good
        job_id = homes.hh.enqueue("ExportDataJob", {"user_id": 999_999})
        assert homes.hh.wait(job_id, timeout=15).state == "failed"
    homes.hh.pause_queue("sync")
    homes.hh.enqueue_many(
        "SyncRetry", [{"batch_size": 1}] * 1001, queue="sync"
    )  # a queue backing up
    engine = homes.hh.alert_engine()
    engine.evaluate(now())
    wait_until(lambda: homes.mailbox.messages, timeout=15, what="the admin's e-mail")
    [(to, message)] = homes.mailbox.messages
    assert to == ["admin@mujdomecek.cz"]
    assert message["Subject"].strip() == (  # (Python's folding can start it with a space)
        "[hourhand] [CRITICAL] job-fails-3x: ExportDataJob failed 3 times in a row"
    )
    slack = wait_until(
        lambda: [json.loads(b) for _, b in receiver.requests], what="the Slack message"
    )
    assert "queue-over-1000" in json.dumps(slack) and "sync" in json.dumps(slack)


# -- two worker replicas, as the seed's docker-compose runs them --------------------------


def latest_fire(cron: str, tz: str, at: datetime) -> datetime:
    """The schedule's last fire time at or before ``at``."""
    latest = None
    for fire in Cron.parse(cron, tz).fires(at - 8 * DAY):
        if fire > at:
            break
        latest = fire
    assert latest is not None
    return latest


def test_two_serve_replicas_fire_each_recurring_job_once(
    tmp_path: Path,
    pg_base_url: str,
    smtp: tuple[Any, Mailbox],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hourhand serve --no-web` twice on one PostgreSQL database (compose.sh): once both
    replicas' schedulers are up, every recurring schedule is made due at its latest fire
    time, and each fires exactly once for that time (one job, one ledger entry) and its job
    runs once, on one replica or the other, while both schedulers poll."""
    reset_postgres(pg_base_url)
    variables = env(tmp_path, smtp[0].port)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    variables.update(to_receiver(monkeypatch, receiver))
    hh.database_url = pg_base_url
    hh.load_config(CONFIG)
    generate(pg_base_url)
    hh.migrate()
    schedules = {s.name: s for s in hh.schedules.list() if s.name in RECURRING}
    logs = [tmp_path / f"replica{n}.log" for n in (1, 2)]
    command = [sys.executable, "-m", "hourhand", "--app", "examples.homes.app:hh"]
    command += ["--database", pg_base_url, "serve", "--no-web", "--poll-interval", "0.1"]
    procs = []
    try:
        for log in logs:
            with open(log, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        command,
                        cwd=EXAMPLE,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=subprocess_env(**variables),
                    )
                )
        wait_until(
            lambda: all("scheduler started" in log.read_text() for log in logs),
            timeout=30,
            what="both replicas' schedulers up",
        )
        # Then each schedule's latest fire time before now (yesterday at 3:00, last Sunday
        # at 2:00, the last 5 minutes...) as its next one: due, and late, so misfire "once"
        # runs it once, with two schedulers polling for it.
        at = hh.store.now()
        fires = {name: latest_fire(s.cron, s.tz, at) for name, s in schedules.items()}
        for name, schedule in schedules.items():
            hh.store.update_schedule(schedule.id, {"next_fire_at": fires[name]})

        def all_ran() -> bool:
            for name, schedule in schedules.items():
                runs = [j for j in hh.schedules.runs(schedule.id) if j.fire_time == fires[name]]
                if not runs or runs[0].state != "completed":
                    return False
            return True

        wait_until(all_ran, timeout=30, interval=0.1, what="every recurring job run")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(30) for proc in procs]
    assert codes == [0, 0]
    for name, schedule in schedules.items():
        fire = fires[name]
        runs = [j for j in hh.schedules.runs(schedule.id, 100) if j.fire_time == fire]
        assert len(runs) == 1, name  # fired once for that time, however many schedulers
        assert len(hh.attempts(runs[0].id)) == 1, name  # and ran once
        entries = [e for e in hh.store.schedule_fires(schedule.id, 100) if e.fire_time == fire]
        assert [(e.status, e.job_id) for e in entries] == [("enqueued", runs[0].id)], name
    for log in logs:
        assert "Traceback" not in log.read_text()
    hh.close()
