"""examples/gst (seed 001): each of the five jobs fired once by its schedule against generated
data, on SQLite and PostgreSQL, its effect checked in the domain tables, the mailbox and the
webhook receiver; the HTTP triggers answering the seed's JSON; the schedules and alert
rules of hourhand.toml; and ``hourhand serve`` serving the triggers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from examples.common.domain import Domain, iso
from examples.gst.app import CONFIG, create_app
from examples.gst.db import from_json
from examples.gst.seed import generate
from fastapi.testclient import TestClient

from hourhand import Hourhand, Job, JobState
from hourhand.ops import Actor
from tests.conftest import REPO, WorkerThread, subprocess_env, wait_until
from tests.support.servers import Mailbox, Receiver, free_port

JOBS = (
    "check-sla-and-overdue",
    "send-hearing-reminders",
    "analytics-snapshot",
    "check-upcoming-deadlines",
    "automation-health-check",
)
SCHEDULES = {  # name -> (job, cron)
    "sla-overdue-check-every-15min": ("check-sla-and-overdue", "*/15 * * * *"),
    "send-hearing-reminders": ("send-hearing-reminders", "0 8 * * *"),
    "analytics-snapshot": ("analytics-snapshot", "59 23 * * *"),
    "check-upcoming-deadlines": ("check-upcoming-deadlines", "0 9 * * *"),
    "automation-health-check": ("automation-health-check", "0 7 * * *"),
}
IST = ZoneInfo("Asia/Kolkata")


@dataclass
class Gst:
    hh: Hourhand
    db: Domain
    box: Mailbox
    start_worker: Callable[[], WorkerThread]

    def fire(self, schedule: str) -> Job:
        """Fire ``schedule`` at its latest fire time (a scheduler tick with the clock set
        there), run its job on a worker, and return the finished job."""
        found = self.hh.schedules.find(schedule)
        latest = None
        for fire in found.parsed.fires(datetime.now(UTC) - timedelta(days=1)):
            if fire > datetime.now(UTC):
                break
            latest = fire
        assert latest is not None
        self.hh.store.update_schedule(found.id, {"next_fire_at": latest})
        [job_id] = self.hh.scheduler().tick(latest)
        self.start_worker()
        job = self.hh.wait(job_id, timeout=15)
        assert job.state == JobState.COMPLETED, job.error
        assert job.schedule_id == found.id
        return job

    def trigger(self, schedule: str) -> Job:
        """Run ``schedule``'s job again now, by hand (``hourhand schedules trigger``)."""
        job_id = self.hh.schedules.trigger(self.hh.schedules.find(schedule).id)
        job = self.hh.wait(job_id, timeout=15)
        assert job.state == JobState.COMPLETED, job.error
        return job

    def mails(self, count: int) -> list[tuple[list[str], Any]]:
        """The mailbox once the run's e-mail jobs have all finished: exactly ``count``."""
        wait_until(lambda: len(self.box.messages) >= count, what=f"{count} e-mails")
        emails = self.hh.list_jobs(name="hourhand.email", limit=1000)
        wait_until(lambda: all(self.hh.get_job(j.id).state == JobState.COMPLETED for j in emails))
        assert len(emails) == count == len(self.box.messages)
        return list(self.box.messages)

    def audit(self, job: str) -> list[dict[str, Any]]:
        found = self.db.query(
            "SELECT * FROM audit_log WHERE action_type = 'background_job_execution'"
            " ORDER BY tenant_id"
        )
        rows = [dict(r, details=from_json(r["details"])) for r in found]
        return [r for r in rows if r["details"]["job_name"] == job]

    def tenants(self) -> dict[str, str]:
        return {r["name"]: r["id"] for r in self.db.query("SELECT id, name FROM tenants")}


@pytest.fixture
def gst(
    store_url: str, smtp: tuple[Any, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gst]:
    """The example's app on a generated database, its e-mail going to the ``smtp`` server;
    ``start_worker()`` starts a worker (stopped before the app is closed)."""
    settings, box = smtp
    monkeypatch.setenv("HOURHAND_SMTP_HOST", settings.host)
    monkeypatch.setenv("HOURHAND_SMTP_PORT", str(settings.port))
    hh = create_app(store_url)
    hh.migrate()
    generate(store_url)
    workers: list[WorkerThread] = []

    def start_worker() -> WorkerThread:
        if not workers:
            worker = hh.worker(
                poll_interval=0.05,  # (it also stops within that)
                concurrency=20,  # e-mails go out 20 at a time
                queues=["default", "hourhand", "whatsapp"],
                queue_limits={"whatsapp": 3},  # as the README runs it: the gateway's pace
            )
            workers.append(WorkerThread(worker).start())
        return workers[0]

    try:
        yield Gst(hh, Domain(store_url), box, start_worker)
    finally:
        for worker in workers:
            worker.stop()
        hh.close()


def assert_audited(gst: Gst, job: str, **fields: Any) -> list[dict[str, Any]]:
    """One ``background_job_execution`` row per tenant with the seed's fields."""
    rows = gst.audit(job)
    assert sorted(r["tenant_id"] for r in rows) == sorted(gst.tenants().values())
    for row in rows:
        assert row["entity_type"] == "background_job"
        assert row["user_id"] and row["timestamp"]
        details = row["details"]
        assert details["status"] == "success"
        assert isinstance(details["execution_time_ms"], int)
        for key, value in fields.items():
            assert key in details and (value is None or details[key] == value), key
    return rows


def test_sla_check_flags_overdue_tasks_and_sla_breaches_once(gst: Gst) -> None:
    now = datetime.now(UTC)
    open_ = "status NOT IN ('Completed', 'Cancelled')"
    due = gst.db.query(
        f"SELECT id FROM tasks WHERE {open_} AND due_date < ? AND is_overdue = 0",
        (iso(now - timedelta(minutes=15)),),
    )
    in_grace = gst.db.query(
        f"SELECT id FROM tasks WHERE {open_} AND due_date >= ? AND due_date < ?",
        (iso(now - timedelta(minutes=15)), iso(now)),
    )
    assert due and len(in_grace) == 6

    job = gst.fire("sla-overdue-check-every-15min")

    flagged = gst.db.query(
        "SELECT id FROM tasks WHERE overdue_since IS NOT NULL AND is_overdue = 1"
    )
    newly = {r["id"] for r in due}
    assert newly <= {r["id"] for r in flagged}
    assert not {r["id"] for r in in_grace} & {r["id"] for r in flagged}  # the 15-minute grace
    cancelled = gst.db.query("SELECT is_overdue FROM tasks WHERE status = 'Cancelled'")
    assert cancelled and not any(r["is_overdue"] for r in cancelled)
    result = job.result
    assert result["newlyOverdue"] == len(newly) and result["overdueTasks"] > len(newly)
    breached = gst.db.query(
        "SELECT COUNT(*) AS n FROM audit_log WHERE action_type = 'sla_violation'"
    )
    assert result["slaViolations"] == breached[0]["n"] > 0
    events = gst.db.query(
        "SELECT trigger_event, rule_name FROM automation_logs WHERE executed_at >= ?", (iso(now),)
    )
    assert {e["trigger_event"] for e in events} == {"task_overdue", "sla_violation"}
    assert result["rulesTriggered"] == len(events) == len(newly) + result["slaViolations"]
    overdue_rows = gst.db.query(
        "SELECT entity_id FROM audit_log WHERE action_type = 'task_overdue'"
    )
    assert {r["entity_id"] for r in overdue_rows} == newly
    assert_audited(gst, "check-sla-and-overdue", overdue_tasks=None, sla_violations=None)

    again = gst.trigger("sla-overdue-check-every-15min").result  # nothing new: no new events
    assert again["newlyOverdue"] == again["slaViolations"] == again["rulesTriggered"] == 0
    assert again["overdueTasks"] == result["overdueTasks"]


def test_hearing_reminders_mail_at_most_100_and_whatsapp_where_enabled(
    gst: Gst, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GST_WHATSAPP_URL", receiver.url)
    window = gst.db.query(
        "SELECT id, hearing_date FROM hearings WHERE status = 'Scheduled'"
        " AND reminder_sent_at IS NULL AND hearing_date >= ? AND hearing_date <= ?",
        (iso(datetime.now(UTC)), iso(datetime.now(UTC) + timedelta(days=1))),
    )
    assert len(window) == 120  # more candidates than a run takes

    job = gst.fire("send-hearing-reminders")

    assert job.result["hearingsFound"] == 120
    assert job.result["remindersSent"] == 100 and job.result["deferred"] == 20
    mails = gst.mails(100)
    reminded = gst.db.query(
        "SELECT id, hearing_date FROM hearings WHERE reminder_sent_at >= ?",
        (iso(datetime.now(UTC) - timedelta(minutes=5)),),
    )
    assert len(reminded) == 100
    recipients, message = mails[0]
    assert re.fullmatch(r"Hearing Reminder: GST/APL/\d{4}/\d+ - .+", message["Subject"])
    assert 1 <= len(recipients) <= 2  # the case owner and the advocate
    text = message.get_body(("plain",)).get_content()
    assert "Preparation checklist" in text and "IST" in text
    mehta = gst.tenants()["Mehta & Associates"]
    whatsapp = job.result["byTenant"][mehta]["whatsappSent"]
    assert job.result["whatsappSent"] == whatsapp > 0  # the one tenant with WhatsApp on
    wait_until(lambda: len(receiver.requests) == whatsapp, what="WhatsApp messages")
    body = json.loads(receiver.requests[0][1])
    assert body["template"] == "hearing_reminder" and body["to"].startswith("+91")
    assert_audited(gst, "send-hearing-reminders", reminders_sent=None, hearings_found=None)

    rest = gst.trigger("send-hearing-reminders").result  # the next run takes the other 20
    assert rest["remindersSent"] == 20 and rest["deferred"] == 0


def test_analytics_snapshot_stores_metrics_and_flags_the_anomaly(gst: Gst) -> None:
    job = gst.fire("analytics-snapshot")

    day = job.fire_time.astimezone(IST).date().isoformat() if job.fire_time else ""
    snapshots = gst.db.query(
        "SELECT tenant_id, metric_type, metric_value FROM analytics_snapshots"
        " WHERE snapshot_date = ?",
        (day,),
    )
    assert len(snapshots) == 3 and {s["metric_type"] for s in snapshots} == {"daily_snapshot"}
    tenants = gst.tenants()
    values = {s["tenant_id"]: from_json(s["metric_value"]) for s in snapshots}
    mehta = values[tenants["Mehta & Associates"]]
    assert mehta["anomaly_detected"] is True and "overdue_tasks" in mehta["anomalies"]
    for name in ("Iyer Tax Chambers", "Desai GST Advisors"):
        assert values[tenants[name]]["anomaly_detected"] is False
    for tenant_id, value in values.items():  # against the tables, counted here
        cases = gst.db.query(
            "SELECT COUNT(*) AS n FROM cases WHERE tenant_id = ? AND status = 'Active'",
            (tenant_id,),
        )
        docs = gst.db.query("SELECT COUNT(*) AS n FROM documents WHERE tenant_id = ?", (tenant_id,))
        tasks = gst.db.query("SELECT status FROM tasks WHERE tenant_id = ?", (tenant_id,))
        counted = [t for t in tasks if t["status"] != "Cancelled"]
        done = [t for t in counted if t["status"] == "Completed"]
        assert value["case_count"] == cases[0]["n"] and value["document_count"] == docs[0]["n"]
        assert value["task_completion_rate"] == round(len(done) / len(counted), 4)
        assert 0 < value["sla_compliance_rate"] < 1 and 0 < value["hearing_attendance_rate"] < 1
    assert job.result["snapshots"] == 3 and job.result["anomalies"] == 1
    assert_audited(gst, "analytics-snapshot", snapshots=1, metrics=None)


def test_deadline_digests_one_per_user_at_most_100_critical_first(gst: Gst) -> None:
    job = gst.fire("check-upcoming-deadlines")

    result = job.result
    assert result["usersNotified"] == 100 and result["usersDeferred"] > 0  # 120 had deadlines
    mails = gst.mails(100)
    people = [tuple(r) for r, _ in mails]
    assert all(len(p) == 1 for p in people) and len(set(people)) == 100  # one digest each
    logged = gst.db.query("SELECT user_id FROM notification_log WHERE kind = 'deadline_digest'")
    assert len(logged) == 100
    critical = gst.db.query(  # everyone with a critical task due is among the first 100
        "SELECT DISTINCT assigned_to FROM tasks WHERE priority = 'Critical'"
        " AND status NOT IN ('Completed', 'Cancelled') AND due_date BETWEEN ? AND ?",
        (iso(datetime.now(UTC)), iso(datetime.now(UTC) + timedelta(hours=23))),
    )
    assert critical and {c["assigned_to"] for c in critical} <= {r["user_id"] for r in logged}
    _, message = mails[0]
    assert message["Subject"] == "\U0001f4cb Your Upcoming Deadlines (Next 24 Hours)"
    texts = [m.get_body(("plain",)).get_content() for _, m in mails]
    assert all("[View All Deadlines]" in t for t in texts)
    assert any("HIGH PRIORITY:" in t and "[Hearing]" in t for t in texts)
    assert any("NORMAL PRIORITY:" in t for t in texts)
    assert any("[CRITICAL] [Task]" in t for t in texts)
    events = gst.db.query(
        "SELECT COUNT(*) AS n FROM automation_logs WHERE trigger_event = 'deadline_approaching'"
        " AND executed_at >= ?",
        (iso(datetime.now(UTC) - timedelta(minutes=5)),),
    )
    assert result["rulesTriggered"] == events[0]["n"] > 0
    assert_audited(gst, "check-upcoming-deadlines", users_notified=None, tasks_due=None)

    rest = gst.trigger("check-upcoming-deadlines").result  # the others, and nobody twice
    assert rest["usersNotified"] == result["usersDeferred"] and rest["usersDeferred"] == 0


def test_automation_health_check_reports_degraded_and_inactive_rules(gst: Gst) -> None:
    job = gst.fire("automation-health-check")

    tenants = gst.tenants()
    mehta = job.result["byTenant"][tenants["Mehta & Associates"]]
    [degraded] = mehta["degradedRules"]
    assert degraded["rule_name"] == "Notify assignee of SLA breach"
    assert degraded["failure_rate"] == 0.4
    assert set(mehta["inactiveRules"]) == {"Auto-assign new notices", "Weekly client report"}
    assert [a["level"] for a in mehta["alerts"]][:1] == ["CRITICAL"]
    iyer = job.result["byTenant"][tenants["Iyer Tax Chambers"]]
    assert iyer["degradedRules"] == [] and iyer["alerts"] == [] and iyer["adminsNotified"] == 0
    [(recipients, message)] = gst.mails(1)
    assert len(recipients) == 2 and all(".admin" in r for r in recipients)
    assert message["Subject"] == "[CRITICAL] Automation health: Mehta & Associates"
    [row] = [
        r
        for r in gst.audit("automation-health-check")
        if r["tenant_id"] == tenants["Mehta & Associates"]
    ]
    assert row["details"]["degraded_rules"][0]["rule_name"] == "Notify assignee of SLA breach"
    assert_audited(gst, "automation-health-check", total_executions=None, success_rate=None)


# -- the HTTP triggers ------------------------------------------------------------------------


def key(hh: Hourhand, role: str, org: str | None = None) -> dict[str, str]:
    _, secret = hh.ops.keys.create(Actor.app("tests"), f"{role}-{org}", role, org)
    return {"Authorization": f"Bearer {secret}"}


def test_http_trigger_answers_the_seeds_json(gst: Gst) -> None:
    gst.start_worker()
    operator = key(gst.hh, "operator")
    with TestClient(gst.hh.served_app()) as client:
        preflight = client.options("/functions/v1/check-sla-and-overdue")
        assert preflight.headers["access-control-allow-origin"] == "*"
        answer = client.post(
            "/functions/v1/check-sla-and-overdue",
            headers=operator,
            json={"executedAt": datetime.now(UTC).isoformat()},  # what pg_cron sent
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["success"] is True and body["job"] == "check-sla-and-overdue"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["executedAt"])
        assert re.fullmatch(r"[\d.e-]+s", body["executionTime"])
        assert body["results"]["tenants"] == 3 and body["results"]["overdueTasks"] > 0
        assert {"slaViolations", "rulesTriggered"} <= set(body["results"])
        assert answer.headers["access-control-allow-origin"] == "*"
        ran = gst.hh.get_job(body["jobId"])
        assert ran.max_attempts == 1 and ran.created_by == "key:operator-None"
        audited = gst.audit("check-sla-and-overdue")
        assert len(audited) == 3 and {r["details"]["trigger"] for r in audited} == {"http"}
        # a tenant's key runs the job for its tenant only
        mehta = gst.tenants()["Mehta & Associates"]
        own = client.post(
            "/functions/v1/automation-health-check", headers=key(gst.hh, "operator", mehta)
        )
        assert own.status_code == 200 and list(own.json()["results"]["byTenant"]) == [mehta]
        other = client.post(
            "/functions/v1/automation-health-check",
            headers=key(gst.hh, "operator", mehta),
            json={"tenantId": gst.tenants()["Iyer Tax Chambers"]},
        )
        assert other.status_code == 403 and other.json()["success"] is False
        nobody = client.post(
            "/functions/v1/analytics-snapshot", headers=operator, json={"tenantId": "nope"}
        )
        assert nobody.status_code == 500 and "no tenant with id 'nope'" in nobody.json()["error"]
        # hourhand's own API and dashboard are served beside the functions
        assert client.get("/health").status_code == 200
        assert (
            client.get(f"/v1/jobs/{body['jobId']}", headers=operator).json()["state"] == "completed"
        )
        assert client.get("/openapi.json").json()["info"]["title"] == "hourhand"


def test_http_trigger_refuses_missing_and_bad_keys_with_401_json(gst: Gst) -> None:
    viewer = key(gst.hh, "viewer")
    made, secret = gst.hh.ops.keys.create(Actor.app("tests"), "old", "admin")
    gst.hh.ops.keys.revoke(Actor.app("tests"), made.id)
    url = "/functions/v1/send-hearing-reminders"
    with TestClient(gst.hh.served_app()) as client:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic dXNlcjpwdw=="},
            {"Authorization": "Bearer hh_0123456789ab_not-a-key"},
            {"Authorization": f"Bearer {secret}"},  # revoked
        ):
            answer = client.post(url, headers=headers)
            assert answer.status_code == 401, headers
            body = answer.json()
            assert body["success"] is False and body["job"] == "send-hearing-reminders"
            assert body["error"] == "Unauthorized" and body["errorDetails"] and body["executedAt"]
            assert answer.headers["www-authenticate"] == "Bearer"
        assert client.post(url, headers=viewer).status_code == 403  # may read, not run
        missing = client.post("/functions/v1/no-such-function", headers=viewer)
        assert missing.status_code == 404 and missing.json()["error"] == "Function not found"
    assert gst.hh.list_jobs(name="send-hearing-reminders") == []  # nothing ran


def test_http_trigger_of_a_failing_job_answers_the_error_json(gst: Gst) -> None:
    gst.db.execute("DROP TABLE analytics_snapshots")  # the seed's "Database ... failed"
    gst.start_worker()
    with TestClient(gst.hh.served_app()) as client:
        answer = client.post("/functions/v1/analytics-snapshot", headers=key(gst.hh, "admin"))
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["success"] is False and body["job"] == "analytics-snapshot"
    assert body["error"] == "analytics-snapshot failed for 3 of 3 tenants"
    assert "analytics_snapshots" in body["errorDetails"] and body["executedAt"]
    assert gst.hh.get_job(body["jobId"]).state == JobState.FAILED
    failed = [r for r in gst.audit("analytics-snapshot") if r["details"]["status"] == "failed"]
    assert len(failed) == 3 and all("analytics_snapshots" in r["details"]["error"] for r in failed)


def test_three_failing_http_triggers_in_a_row_fire_the_critical_alert_by_mail(gst: Gst) -> None:
    gst.db.execute("DROP TABLE analytics_snapshots")
    gst.start_worker()
    with TestClient(gst.hh.served_app()) as client:
        for _ in range(3):
            answer = client.post("/functions/v1/analytics-snapshot", headers=key(gst.hh, "admin"))
            assert answer.status_code == 500
    gst.hh.scheduler().evaluate_alerts(gst.hh.store.now(), force=True)
    firing = [a for a in gst.hh.ops.alerts.list(Actor.app("tests"), state="open")]
    assert [(a.rule, a.state, a.severity) for a in firing] == [
        ("analytics-snapshot-failing", "firing", "critical")
    ]
    wait_until(
        lambda: any("analytics-snapshot-failing" in str(m["Subject"]) for _, m in gst.box.messages),
        what="the alert's e-mail",
    )


# -- configuration ------------------------------------------------------------------------------


def test_schedules_retries_and_alert_rules_load_from_hourhand_toml(tmp_path: Path) -> None:
    hh = create_app(f"sqlite:///{tmp_path}/gst.db", config=None)
    hh.load_config(CONFIG)
    schedules = hh.config_schedules
    assert {n: (s.job, s.cron) for n, s in schedules.items()} == SCHEDULES
    assert {s.tz for s in schedules.values()} == {"Asia/Kolkata"}
    assert schedules["sla-overdue-check-every-15min"].misfire == "skip"
    assert {schedules[n].misfire for n in list(SCHEDULES)[1:]} == {"once"}
    spec = hh.registry
    assert spec["check-sla-and-overdue"].max_attempts == 1
    assert spec["send-hearing-reminders"].max_attempts == 3
    assert spec["send-hearing-reminders"].retry.kind == "exponential"
    assert spec["analytics-snapshot"].timeout == 120
    rules = hh.alerting.alerts
    in_a_row = {r.job: r for r in rules.values() if r.kind == "failures_in_a_row"}
    assert set(in_a_row) == set(JOBS)  # by job: runs by hand and over HTTP count too
    assert {(r.count, r.severity) for r in in_a_row.values()} == {(3, "critical")}
    slow = {(r.job, r.severity): r.longer_than for r in rules.values() if r.kind == "long_running"}
    expected = {
        "check-sla-and-overdue": 5,
        "send-hearing-reminders": 15,
        "analytics-snapshot": 30,
        "check-upcoming-deadlines": 8,
        "automation-health-check": 5,
    }
    assert slow == {
        **{(job, "critical"): 2 * t for job, t in expected.items()},
        **{(job, "warning"): 1.5 * t for job, t in expected.items()},
    }
    [rate] = [r for r in rules.values() if r.kind == "failure_rate"]
    assert (rate.rate, rate.severity) == (10, "warning")  # success under 90%
    [silent] = [r for r in rules.values() if r.kind == "missed_schedule"]
    assert (silent.no_success_for, silent.severity) == (86400, "critical")
    assert hh.settings.smtp is not None and hh.alerting.channels["admin-mail"].kind == "email"
    hh.close()


# -- hourhand serve -------------------------------------------------------------------------------


def test_hourhand_serve_serves_the_functions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/served.db"
    setup = create_app(url)
    setup.migrate()
    generate(url, scale=0.2)
    _, secret = setup.ops.keys.create(Actor.app("tests"), "cron", "operator")
    setup.close()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hourhand",
            "--app",
            "examples.gst.app:hh",
            "serve",
            "--port",
            str(port),
            "--poll-interval",
            "0.2",
            "--grace",
            "2",
        ],
        cwd=REPO / "examples" / "gst",
        env=subprocess_env(HOURHAND_DATABASE=url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:

            def up() -> bool:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                try:
                    return client.get("/health").status_code == 200
                except httpx2.TransportError:
                    return False

            wait_until(up, timeout=20, interval=0.1, what="hourhand serve")
            answer = client.post(
                "/functions/v1/automation-health-check",
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["success"] is True and answer.json()["results"]["tenants"] == 3
            assert client.post("/functions/v1/automation-health-check").status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
