"""examples/construction (seed 000): every job run once by a real worker against generated
data, its effect checked in the domain tables, the storage folder and a real SMTP server;
the schedules and alert rules as hourhand.toml defines them. No real waiting: schedules
fire by an injected clock, retries are moved on by hand (hh.retry) and alert rules are
evaluated at a later ``now``. Each job's main test runs on SQLite and PostgreSQL, the
others on SQLite (the time budget)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest
from examples.common.domain import Domain, from_json, iso, now
from examples.construction import app as construction
from examples.construction import invoices, seed
from examples.construction.pdf import LINES_PER_PAGE, expected_pages
from examples.construction.storage import STORAGE_VARIABLE, path_of

from hourhand import Hourhand, JobState
from hourhand.cron import Cron
from hourhand.ops import Actor
from tests.conftest import WorkerThread, wait_until
from tests.support.servers import Mailbox

CONFIG = Path(construction.__file__).with_name("hourhand.toml")
CLI = Actor.cli()
DONE = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


class Example:
    """The example's app on a fresh database with generated data, its config file read
    (SMTP pointed at the test's server), and a worker."""

    def __init__(self, hh: Hourhand, domain: Domain, mailbox: Mailbox) -> None:
        self.hh = hh
        self.domain = domain
        self.mailbox = mailbox
        self.fired: set[datetime] = set()

    def fire(self, name: str) -> int:
        """The schedule fires: its next fire time is set to one of its past ones (each
        fire an earlier one, so each is new) and a scheduler ticks a second after it (the
        clock injected); the job it enqueued, due at once."""
        schedule = self.hh.schedules.find(name)
        now_ = self.hh.store.now()
        past = Cron.parse(schedule.cron, schedule.tz).fires(now_ - timedelta(days=7))
        fire = [f for f in takewhile(lambda f: f < now_, past) if f not in self.fired][-1]
        self.fired.add(fire)
        self.hh.store.update_schedule(schedule.id, {"next_fire_at": fire})
        [job_id] = self.hh.scheduler().tick(fire + timedelta(seconds=1))
        return job_id

    def finish(self, job_id: int) -> Any:
        job = self.hh.wait(job_id, timeout=15)
        assert job.state in DONE, f"job {job_id} is still {job.state}"
        return job

    def count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = self.domain.one(f"SELECT COUNT(*) AS n FROM {sql}", params)
        assert row is not None
        return int(row["n"])


@pytest.fixture
def example(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: tuple[Any, Mailbox],
    app_workers: Callable[..., WorkerThread],
) -> Iterator[Example]:
    settings, mailbox = smtp
    monkeypatch.setenv("HOURHAND_SMTP_PORT", str(settings.port))
    monkeypatch.setenv(STORAGE_VARIABLE, str(tmp_path / "storage"))
    url = store_url
    hh = construction.hh
    hh.database_url, hh.database_origin = url, "argument"
    hh.load_config(CONFIG)
    seed.generate(url, scale=1)
    hh.migrate()  # hourhand's tables and the file's schedules
    worker = app_workers(hh, poll_interval=0.05)
    try:
        yield Example(hh, Domain(url), mailbox)
    finally:
        worker.stop()
        hh.close()


# -- the configuration ------------------------------------------------------------------------


@SQLITE_ONLY
def test_schedules_retries_and_alert_rules_are_the_seeds(example: Example) -> None:
    hh = example.hh
    budget = hh.schedules.find("budget_alert_worker")
    assert (budget.job, budget.cron, budget.tz, budget.source) == (
        "budget_alert_worker",
        "*/15 * * * *",
        "UTC",
        "config",
    )
    assert (budget.misfire, budget.overlap) == ("skip", "skip")
    cleanup = hh.schedules.find("share_link_cleanup")
    assert (cleanup.cron, cleanup.tz, cleanup.misfire, cleanup.overlap) == (
        "0 2 * * *",
        "Europe/Stockholm",
        "once",
        "skip",
    )
    assert cleanup.args == {"batch_size": 100, "events_older_than_days": 90}
    pdf = hh.spec("pdf_invoice_worker")
    assert pdf.max_attempts == 4 and pdf.retry.delays == (60, 300, 900)
    assert hh.spec("budget_alert_worker").max_attempts == 3

    rules = hh.alerting.alerts
    silent = rules["budget-worker-silent"]
    assert (silent.kind, silent.schedule, silent.no_success_for) == (
        "missed_schedule",
        "budget_alert_worker",
        1800,
    )
    rate = rules["pdf-failure-rate"]
    assert (rate.kind, rate.job, rate.rate, rate.window) == (
        "failure_rate",
        "pdf_invoice_worker",
        10,
        3600,
    )
    assert rules["pdf-dead-letters"].kind == "dead_letter"
    assert rules["budget-worker-failing"].count == 1
    assert rules["cleanup-failing"].schedule == "share_link_cleanup"
    assert all("admin-mail" in r.channels for r in rules.values())


# -- budget_alert_worker ---------------------------------------------------------------------


def make_project(example: Example, hours: float, material_share: float) -> dict[str, int]:
    """A project of the first tenant with a known budget: 100 h at 500 kr, 50,000 kr of
    material; thresholds hours 80 and 100, material 90 (not notified), total 75."""
    d = example.domain
    tenant = d.one("SELECT MIN(id) AS id FROM tenants")
    assert tenant is not None
    tenant_id = int(tenant["id"])
    project = d.insert(
        "projects", {"tenant_id": tenant_id, "name": "Villa Ekbacken", "status": "active"}
    )
    thresholds = [
        {"type": "hours", "percentage": 80, "notify": True},
        {"type": "hours", "percentage": 100, "notify": True},
        {"type": "material", "percentage": 90, "notify": False},
        {"type": "total", "percentage": 75, "notify": True},
    ]
    budget = d.insert(
        "project_budgets",
        {
            "project_id": project,
            "hours_budget": 100.0,
            "material_budget": 5_000_000,
            "total_budget": 10_000_000,
            "hourly_rate": 50_000,
            "alert_thresholds": json.dumps(thresholds),
            "updated_at": iso(now()),
        },
    )
    user = d.one("SELECT MIN(id) AS id FROM users WHERE tenant_id = ?", (tenant_id,))
    assert user is not None
    d.insert(
        "time_entries",
        {"project_id": project, "user_id": user["id"], "hours": hours, "worked_on": "2026-01-05"},
    )
    d.insert(
        "material_entries",
        {
            "project_id": project,
            "description": "Virke",
            "amount": int(5_000_000 * material_share),
            "bought_on": "2026-01-05",
        },
    )
    return {"tenant": tenant_id, "project": project, "budget": budget}


def alerts_of(example: Example, project: int) -> dict[tuple[str, float], dict[str, Any]]:
    rows = example.domain.query(
        "SELECT * FROM budget_alerts WHERE project_id = ? ORDER BY id", (project,)
    )
    return {(r["alert_type"], float(r["threshold_percentage"])): r for r in rows}


def test_budget_alerts_once_per_threshold_and_resolved_when_the_budget_changes(
    example: Example,
) -> None:
    ours = make_project(example, hours=85, material_share=0.95)
    first = example.finish(example.fire("budget_alert_worker"))
    assert first.state == JobState.COMPLETED, first.error
    # 85 h of 100 passes 80 (not 100); material 95 % passes 90 but is not notified; the
    # total, 85 x 500 kr + 47,500 kr of 100,000 kr = 90 %, passes 75
    alerts = alerts_of(example, ours["project"])
    assert set(alerts) == {("hours", 80.0), ("total", 75.0)}
    assert float(alerts["hours", 80.0]["current_percentage"]) == 85.0
    assert float(alerts["total", 75.0]["current_percentage"]) == 90.0
    assert all(a["status"] == "active" for a in alerts.values())
    # across the generated projects too: each alert over its threshold, one per key
    every = example.domain.query("SELECT * FROM budget_alerts")
    assert first.result["created"] == len(every) > 2
    assert all(float(a["current_percentage"]) >= float(a["threshold_percentage"]) for a in every)
    keys = [(a["project_id"], a["alert_type"], a["threshold_percentage"]) for a in every]
    assert len(set(keys)) == len(keys)
    # the tenant's two admins notified in the app, once per alert, and by e-mail
    admins = example.domain.query(
        "SELECT id, email FROM users WHERE tenant_id = ? AND role = 'admin'", (ours["tenant"],)
    )
    assert len(admins) == 2
    notes = [
        (n["user_id"], payload)
        for n in example.domain.query("SELECT * FROM notifications ORDER BY id")
        if (payload := from_json(n["payload"]))["project_id"] == ours["project"]
    ]
    assert sorted(user for user, _ in notes) == sorted([a["id"] for a in admins] * 2)
    assert {p["alert_type"] for _, p in notes} == {"hours", "total"}
    assert {p["current"] for _, p in notes} == {85.0, 90.0}
    assert example.count("notifications") == 2 * len(every)
    wait_until(lambda: len(example.mailbox.messages) == len(every), what="budget e-mails")
    mails = [m for to, m in example.mailbox.messages if "Villa Ekbacken" in m["Subject"]]
    assert len(mails) == 2
    assert all(set(m["To"].split(", ")) == {a["email"] for a in admins} for m in mails)
    assert any("used 85% of its hours budget" in m["Subject"] for m in mails)

    # a second run: nothing new while the alerts are active
    second = example.finish(example.fire("budget_alert_worker"))
    assert second.state == JobState.COMPLETED and second.result["created"] == 0
    assert alerts_of(example, ours["project"]) == alerts
    assert example.count("budget_alerts") == len(every)
    assert example.count("notifications") == 2 * len(every)

    # the budget changes: 200 h. Hours are at 42.5 %: that alert resolves; the total
    # (42,500 + 47,500 of 150,000 kr = 60 %) too
    example.domain.execute(
        "UPDATE project_budgets SET hours_budget = 200, total_budget = 15000000, updated_at = ?"
        " WHERE id = ?",
        (iso(now()), ours["budget"]),
    )
    third = example.finish(example.fire("budget_alert_worker"))
    assert third.state == JobState.COMPLETED
    resolved = alerts_of(example, ours["project"])
    assert {k: a["status"] for k, a in resolved.items()} == {
        ("hours", 80.0): "resolved",
        ("total", 75.0): "resolved",
    }
    assert all(a["resolved_at"] for a in resolved.values())
    assert third.result["resolved"] == 2 and third.result["created"] == 0

    # another change that leaves it over: 100 h again, and 86 h used: a new hours alert
    # (the old one stays resolved); then a change of rate only updates the active one
    example.domain.execute(
        "UPDATE project_budgets SET hours_budget = 100, total_budget = 10000000, updated_at = ?"
        " WHERE id = ?",
        (iso(now()), ours["budget"]),
    )
    example.finish(example.fire("budget_alert_worker"))
    rows = example.domain.query(
        "SELECT id, status FROM budget_alerts WHERE project_id = ? AND alert_type = 'hours'",
        (ours["project"],),
    )
    assert sorted(r["status"] for r in rows) == ["active", "resolved"]
    changed_at = iso(now())
    example.domain.execute(
        "UPDATE project_budgets SET hourly_rate = 60000, updated_at = ? WHERE id = ?",
        (changed_at, ours["budget"]),
    )
    fifth = example.finish(example.fire("budget_alert_worker"))
    assert fifth.result["updated"] == 2 and fifth.result["created"] == 0
    active = example.domain.query(
        "SELECT * FROM budget_alerts WHERE project_id = ? AND status = 'active'",
        (ours["project"],),
    )
    assert {a["alert_type"] for a in active} == {"hours", "total"}
    assert all(a["budget_updated_at"] == changed_at for a in active)


@SQLITE_ONLY
def test_budget_errors_in_three_projects_fail_the_run_and_alert(example: Example) -> None:
    broken = example.domain.query(
        "SELECT pb.id, pb.project_id FROM project_budgets pb JOIN projects p"
        " ON pb.project_id = p.id WHERE p.status = 'active' ORDER BY pb.id LIMIT 3"
    )
    for row in broken:
        example.domain.execute(
            "UPDATE project_budgets SET alert_thresholds = ? WHERE id = ?",
            ('{"hours": 80}', row["id"]),
        )
    job_id = example.fire("budget_alert_worker")
    wait_until(lambda: example.hh.get_job(job_id).state == JobState.RETRYING, what="retrying")
    [attempt] = example.hh.attempts(job_id)
    assert "BudgetCheckFailed: 3 of" in (attempt.error or "")
    errors = example.domain.query("SELECT * FROM audit_logs WHERE action = 'error' ORDER BY id")
    assert [e["record_id"] for e in errors] == [r["project_id"] for r in broken]
    assert all("not a list" in from_json(e["metadata"])["error"] for e in errors)
    assert example.count("budget_alerts") > 0  # the other projects were checked
    # "alert on errors in 3+ projects": the failed run fires the rule, to the admin
    example.hh.alert_engine().evaluate(example.hh.store.now())
    [alert] = example.hh.ops.alerts.list(CLI, state="firing")
    assert alert.rule == "budget-worker-failing"
    wait_until(
        lambda: any("budget-worker-failing" in m["Subject"] for _, m in example.mailbox.messages),
        what="the alert's e-mail",
    )


@SQLITE_ONLY
def test_budget_worker_silent_for_30_minutes_alerts_the_admin(example: Example) -> None:
    engine = example.hh.alert_engine()
    start = example.hh.store.now()
    engine.evaluate(start + timedelta(minutes=20))
    assert example.hh.ops.alerts.list(CLI, state="firing") == []
    engine.evaluate(start + timedelta(minutes=31))
    [alert] = example.hh.ops.alerts.list(CLI, state="firing")
    assert alert.rule == "budget-worker-silent"
    wait_until(lambda: example.mailbox.messages, what="the alert's e-mail")
    [(to, message)] = [
        (to, m) for to, m in example.mailbox.messages if "budget-worker-silent" in m["Subject"]
    ]
    assert to == ["admin@bygg.example"] and "[CRITICAL]" in message["Subject"]
    # a run that succeeds resolves it
    assert example.finish(example.fire("budget_alert_worker")).state == JobState.COMPLETED
    engine.evaluate(example.hh.store.now() + timedelta(minutes=1))
    assert example.hh.ops.alerts.list(CLI, state="firing") == []


# -- pdf_invoice_worker -----------------------------------------------------------------------


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", data))


def pdf_text(data: bytes) -> bytes:
    """The page content streams, inflated (a text fpdf2 draws in pieces joined again)."""
    out = []
    for match in re.finditer(rb"/Filter /FlateDecode\s*/Length (\d+)\s*>>\s*stream\r?\n", data):
        out.append(zlib.decompress(data[match.end() : match.end() + int(match[1])]))
    return b"".join(out).replace(b") Tj (", b"")


def lines(count: int) -> list[dict[str, Any]]:
    return [
        {"description": f"Arbete rad {i}", "quantity": 2.0, "unit": "tim", "unit_price": 65000}
        for i in range(1, count + 1)
    ]


def test_pdf_invoice_worker_makes_a_real_pdf_when_an_invoice_is_created_or_updated(
    example: Example,
) -> None:
    d = example.domain
    tenant = d.one("SELECT MIN(id) AS id FROM tenants")
    assert tenant is not None
    invoice_id, job_id = invoices.create_invoice(
        example.hh, d, tenant_id=int(tenant["id"]), number="F-2026-0042", lines=lines(250)
    )
    job = example.finish(job_id)
    assert job.state == JobState.COMPLETED, job.error
    assert job.progress == 100
    invoice = d.one("SELECT * FROM invoices WHERE id = ?", (invoice_id,))
    assert invoice is not None and invoice["pdf_url"] == job.result["pdf_url"]
    path = path_of(invoice["pdf_url"])
    assert path.parts[-3:] == ("invoices", str(tenant["id"]), f"{invoice_id}.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    assert re.search(rb"/Producer \(fpdf2 ", data)
    # 250 lines, 40 a page: 7 pages; every line drawn, placeholders for what is missing
    assert expected_pages(250) == 7 == pdf_pages(data) == job.result["pages"]
    assert re.search(rb"/Count 7\b", data)
    text = pdf_text(data)
    assert b"F-2026-0042" in text and b"Arbete rad 1)" in text and b"Arbete rad 250)" in text
    assert b"kund saknas" in text and b"projekt saknas" in text
    assert b"Sida 7 av 7" in text
    # 250 x 2 h x 650 kr = 325,000 kr; with 25 % VAT 406,250 kr
    assert b"406 250,00" in text
    [export] = d.query("SELECT * FROM audit_logs WHERE action = 'export'")
    assert from_json(export["new_values"]) == {"pdf_url": invoice["pdf_url"]}
    # read in chunks of 100 lines
    assert [len(c) for c in invoices.line_chunks(d, invoice_id)] == [100, 100, 50]

    # updated: 30 lines now, one page
    again = example.finish(invoices.update_invoice(example.hh, d, invoice_id, lines=lines(30)))
    assert again.state == JobState.COMPLETED
    data = path.read_bytes()
    assert pdf_pages(data) == 1 == again.result["pages"] and LINES_PER_PAGE > 30
    assert b"Arbete rad 31)" not in pdf_text(data)


@SQLITE_ONLY
def test_a_failing_pdf_is_retried_after_1_5_and_15_minutes_then_dead_lettered(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = tmp_path / "full-disk"
    full.write_text("not a folder")  # the storage cannot be written: every attempt fails
    monkeypatch.setenv(STORAGE_VARIABLE, str(full))
    [invoice] = example.domain.query("SELECT id FROM invoices ORDER BY id LIMIT 1")
    job_id = invoices.enqueue_pdf(example.hh, int(invoice["id"]))
    hh = example.hh

    def retrying(attempt: int) -> Callable[[], bool]:
        def check() -> bool:
            job = hh.get_job(job_id)
            return job.attempt == attempt and job.state == JobState.RETRYING

        return check

    for attempt, delay in ((1, 60), (2, 300), (3, 900)):
        wait_until(retrying(attempt), what=f"attempt {attempt} retrying")
        last = hh.attempts(job_id)[-1]
        assert last.outcome == "failed" and "NotADirectoryError" in (last.error or "")
        assert last.started_at is not None
        ended = last.started_at + timedelta(seconds=last.duration or 0)
        run_at = hh.get_job(job_id).run_at
        assert run_at is not None
        waits = (run_at - ended).total_seconds()
        assert delay - 1 < waits < delay + 1, (attempt, waits)
        hh.retry(job_id)  # the operator's "run now" instead of waiting
    job = example.finish(job_id)
    assert job.state == JobState.FAILED and job.attempt == 4  # the dead-letter set
    assert [a.outcome for a in hh.attempts(job_id)] == ["failed"] * 4
    assert hh.list_jobs(state="failed", name="pdf_invoice_worker")[0].id == job_id
    # and the admin hears of it
    hh.alert_engine().evaluate(hh.store.now())
    assert [a.rule for a in hh.ops.alerts.list(CLI, state="firing")] == ["pdf-dead-letters"]


@SQLITE_ONLY
def test_pdf_failures_over_10_percent_of_the_hour_alert_the_admin(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hh = example.hh
    ids = [int(r["id"]) for r in example.domain.query("SELECT id FROM invoices ORDER BY id")]
    for invoice_id in (ids * 9)[:9]:  # nine PDFs made
        assert example.finish(invoices.enqueue_pdf(hh, invoice_id)).state == JobState.COMPLETED
    engine = hh.alert_engine()
    engine.evaluate(hh.store.now())
    assert hh.ops.alerts.list(CLI, state="firing") == []  # 0 of 9 failed
    full = tmp_path / "full-disk"
    full.write_text("not a folder")
    monkeypatch.setenv(STORAGE_VARIABLE, str(full))
    failing = [invoices.enqueue_pdf(hh, invoice_id) for invoice_id in ids[:2]]
    for job_id in failing:  # a failed first attempt each: retried in a minute
        wait_until(lambda j=job_id: hh.get_job(j).state == JobState.RETRYING, what="a failure")
    engine.evaluate(hh.store.now())  # 2 of 11 attempts in the hour failed: 18 % > 10 %
    [alert] = hh.ops.alerts.list(CLI, state="firing")
    assert (alert.rule, alert.severity) == ("pdf-failure-rate", "warning")
    wait_until(
        lambda: any("pdf-failure-rate" in str(m["Subject"]) for _, m in example.mailbox.messages),
        what="the alert's e-mail",
    )


# -- share_link_cleanup -----------------------------------------------------------------------


def test_share_link_cleanup_in_batches_of_100_and_events_over_90_days(example: Example) -> None:
    d = example.domain
    stamp = iso(now())
    expired = (
        "public_links WHERE active = ?"
        " AND (expires_at < ? OR (max_views IS NOT NULL AND view_count >= max_views))"
    )
    to_close = d.query(f"SELECT id FROM {expired}", (True, stamp))
    still_valid = d.query(
        f"SELECT id FROM public_links WHERE active = ? AND id NOT IN (SELECT id FROM {expired})",
        (True, True, stamp),
    )
    cutoff = iso(now() - timedelta(days=90))
    old_events = example.count("public_link_events WHERE created_at < ?", (cutoff,))
    new_events = example.count("public_link_events WHERE created_at >= ?", (cutoff,))
    assert len(to_close) > 100 and still_valid and old_events and new_events

    job = example.finish(example.fire("share_link_cleanup"))
    assert job.state == JobState.COMPLETED, job.error
    n = len(to_close)
    assert job.result["batches"] == [100] * (n // 100) + ([n % 100] if n % 100 else [])
    assert job.result["deactivated"] == n and job.result["failed"] == 0
    assert example.count(expired, (True, stamp)) == 0
    assert example.count("public_links WHERE active = ?", (True,)) == len(still_valid)
    audits = d.query("SELECT * FROM audit_logs WHERE table_name = 'public_links'")
    assert sorted(a["record_id"] for a in audits) == sorted(r["id"] for r in to_close)
    assert from_json(audits[0]["metadata"])["reason"] == "expired_or_max_views"
    assert job.result["cleaned_events"] == old_events
    assert example.count("public_link_events WHERE created_at < ?", (cutoff,)) == 0
    assert example.count("public_link_events") == new_events


LEGAL_HOLD = {
    "sqlite": [
        "CREATE TRIGGER legal_hold BEFORE UPDATE ON public_links WHEN OLD.id = {id}"
        " BEGIN SELECT RAISE(ABORT, 'legal hold'); END"
    ],
    "postgres": [
        "CREATE FUNCTION legal_hold() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'legal hold'; END $$",
        "CREATE TRIGGER legal_hold BEFORE UPDATE ON public_links FOR EACH ROW"
        " WHEN (OLD.id = {id}) EXECUTE FUNCTION legal_hold()",
    ],
}


def test_share_link_cleanup_logs_a_failing_link_and_goes_on(example: Example) -> None:
    d = example.domain
    stamp = iso(now())
    [victim] = d.query(
        "SELECT id FROM public_links WHERE active = ? AND expires_at < ? ORDER BY id LIMIT 1",
        (True, stamp),
    )
    with d.connect() as conn:  # a link the database refuses to change
        for statement in LEGAL_HOLD[d.dialect]:
            conn.execute(statement.format(id=int(victim["id"])))
    job = example.finish(example.fire("share_link_cleanup"))
    assert job.state == JobState.COMPLETED
    assert job.result["failed"] == 1 and job.result["deactivated"] > 100
    [error] = d.query("SELECT * FROM audit_logs WHERE action = 'error'")
    assert error["record_id"] == victim["id"]
    assert "legal hold" in from_json(error["metadata"])["error"]
    assert example.count("public_links WHERE active = ? AND expires_at < ?", (True, stamp)) == 1
