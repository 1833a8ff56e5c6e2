"""examples/saas (seed 002): organisation-scoped user jobs with progress and results, the
hourly storage:cleanup system job, users' daily/weekly/monthly schedules per organisation,
and the jobs API under /v1/orgs/{org}/jobs through the example's typed client, against a
real server (uvicorn in a thread) and a real worker, on generated data (SQLite)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
import uvicorn
from examples.common.domain import Domain, Row, iso
from examples.saas.app import build
from examples.saas.client import ApiError, JobsClient
from examples.saas.jobs.reports import window
from examples.saas.schedules import PERIODS, Frequency, cron_for
from examples.saas.seed import Generated, generate
from examples.saas.storage import LocalStorage

from hourhand import Hourhand
from hourhand.ops import Actor
from hourhand.schedule_model import Schedule
from tests.conftest import REPO, WorkerThread, wait_until

ACME, GLOBEX, INITECH = "org_acme", "org_globex", "org_initech"
TEAM_SCHEDULES: tuple[tuple[Frequency, str | None], ...] = (
    ("daily", None),
    ("weekly", "FRI"),
    ("monthly", "last"),
)


@dataclass
class Saas:
    hh: Hourhand
    domain: Domain
    storage: LocalStorage
    made: Generated
    url: str = ""  # the API's base URL

    def client(self, org: str, key_org: str | None = None) -> JobsClient:
        """A client of ``org`` with an operator key of ``key_org`` (default: ``org``)."""
        owner = key_org or org
        _, key = self.hh.ops.keys.create(Actor.app("tests"), f"{owner}-app", "operator", owner)
        return JobsClient(self.url, key, org, timeout=10)

    def file(self, file_id: int) -> Row | None:
        return self.domain.one("SELECT * FROM files WHERE id = ?", (file_id,))


@contextmanager
def served(hh: Hourhand) -> Iterator[str]:
    """``hh.asgi_app()`` on uvicorn in a thread, on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(hh.asgi_app(), log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=10, what="uvicorn to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def saas(tmp_path: Path) -> Iterator[Saas]:
    url = f"sqlite:///{tmp_path}/saas.db"
    storage = LocalStorage(tmp_path / "storage")
    made = generate(url, scale=1, storage=storage)
    hh = build(Hourhand(url), storage)
    try:
        with served(hh) as base:
            yield Saas(hh, Domain(url), storage, made, base)
    finally:
        hh.close()


Workers = Callable[..., WorkerThread]


def last_fire(schedule: Schedule, now: datetime) -> datetime:
    """The schedule's latest fire time at or before ``now``."""
    fire = schedule.parsed.next(now - timedelta(days=32))
    assert fire is not None
    while (following := schedule.parsed.next(fire)) is not None and following <= now:
        fire = following
    return fire


def run_all(saas: Saas, app_workers: Workers, ids: list[int]) -> None:
    """A real worker runs until every job in ``ids`` has finished."""
    app_workers(saas.hh, poll_interval=0.1, concurrency=4)
    for job_id in ids:
        job = saas.hh.wait(job_id, timeout=15)
        assert job.finished_at is not None, f"job {job_id} is still {job.state}"


def test_the_client_enqueues_a_report_and_an_import_and_reads_progress_and_results(
    saas: Saas, app_workers: Workers
) -> None:
    user = saas.made.users[ACME][0]
    upload = saas.made.uploads[ACME]
    with saas.client(ACME) as jobs:
        report = jobs.enqueue(
            "reports:generate", {"period": "month", "format": "pdf"}, created_by=user
        )
        imported = jobs.enqueue(
            "contacts:import", {"file_id": upload, "batch_size": 10}, created_by=user
        )
        for job in (report, imported):
            assert (job.org_id, job.created_by, job.status, job.progress) == (
                ACME,
                user,
                "pending",
                None,
            )
        run_all(saas, app_workers, [report.id, imported.id])
        report, imported = jobs.get_job(report.id), jobs.get_job(imported.id)
        listed = jobs.list_jobs(state="completed")
        only_imports = jobs.list_jobs(type="contacts:import")

    # the report: progress, result, the PDF in storage and its row, over the month's orders
    assert (report.state, report.status, report.error) == ("completed", "completed", None)
    assert (report.progress, report.progress_message) == (100.0, "report ready")
    assert [a.outcome for a in report.attempts] == ["completed"]
    result = report.result
    row = saas.file(result["file_id"])
    assert row is not None
    assert (row["org_id"], row["kind"], row["job_id"], row["created_by"]) == (
        ACME,
        "report",
        report.id,
        user,
    )
    assert row["expires_at"] > iso(datetime.now(UTC) + timedelta(days=6))  # kept a week
    pdf = saas.storage.get(str(row["storage_key"]))
    assert pdf.startswith(b"%PDF") and len(pdf) == result["bytes"] == row["size"]
    orders = saas.domain.one(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN status = 'paid' THEN amount_cents ELSE 0 END) AS paid "
        "FROM orders WHERE org_id = ? AND created_at >= ? AND created_at < ?",
        (ACME, result["from"], result["until"]),
    )
    assert orders is not None and orders["n"] > 0
    assert (result["orders"], result["paid_cents"]) == (orders["n"], orders["paid"])
    assert result["until"] == iso(report.created_at)

    # the import: 40 good lines (32 new people, 8 known ones updated), 3 bad ones skipped
    assert imported.state == "completed", imported.error
    assert (imported.progress, imported.progress_message) == (
        100.0,
        "imported 40 contacts, skipped 3 lines",
    )
    got = imported.result
    assert {k: got[k] for k in ("lines", "imported", "created", "updated", "skipped")} == {
        "lines": 43,
        "imported": 40,
        "created": 32,
        "updated": 8,
        "skipped": 3,
    }
    assert got["errors"] == [
        {"line": 42, "error": "not an e-mail address"},
        {"line": 43, "error": "no name"},
        {"line": 44, "error": "the same e-mail address as an earlier line"},
    ]
    counts = saas.domain.query(
        "SELECT source, COUNT(*) AS n FROM contacts WHERE org_id = ? "
        "GROUP BY source ORDER BY source",
        (ACME,),
    )
    assert [(c["source"], c["n"]) for c in counts] == [(f"import:{imported.id}", 32), ("seed", 30)]
    assert saas.domain.one("SELECT COUNT(*) AS n FROM contacts WHERE org_id = ?", (GLOBEX,)) == {
        "n": 30
    }

    assert {j.id for j in listed.jobs} == {report.id, imported.id}
    assert [j.id for j in only_imports.jobs] == [imported.id]


def test_another_orgs_key_cannot_see_or_touch_the_orgs_jobs(
    saas: Saas, app_workers: Workers
) -> None:
    with saas.client(ACME) as acme, saas.client(GLOBEX) as globex:
        waiting = acme.enqueue("reports:generate", {"period": "day"}, delay=3600)
        for call in (globex.get_job, globex.cancel_job):
            with pytest.raises(ApiError) as caught:
                call(waiting.id)
            assert (caught.value.status, caught.value.code) == (404, "not_found")
        assert globex.list_jobs().jobs == []
        with saas.client(ACME, key_org=GLOBEX) as intruder:  # globex's key on acme's path
            with pytest.raises(ApiError) as caught:
                intruder.list_jobs()
            assert caught.value.status == 404
            with pytest.raises(ApiError) as caught:
                intruder.enqueue("reports:generate")
            assert caught.value.status == 404
        # the system job is not an organisation's to run (403), as JSON
        with pytest.raises(ApiError) as caught:
            globex.enqueue("storage:cleanup")
        assert (caught.value.status, caught.value.code) == (403, "forbidden")
        raw = httpx2.get(
            f"{saas.url}/v1/orgs/{ACME}/jobs/{waiting.id}", headers=globex.http.headers
        )
        assert raw.status_code == 404 and raw.headers["content-type"] == "application/json"
        assert set(raw.json()["error"]) == {"code", "message"}
        # an import of acme's upload enqueued by globex finds no such upload in globex
        stolen = globex.enqueue("contacts:import", {"file_id": saas.made.uploads[ACME]})
        run_all(saas, app_workers, [stolen.id])
        stolen = globex.get_job(stolen.id)
        assert stolen.state == "failed" and "no upload" in (stolen.error or "")
        assert [a.outcome for a in stolen.attempts] == ["failed"]  # DoNotRetry: no retries
        # acme's job is untouched, and acme cancels it
        assert acme.get_job(waiting.id).state == "scheduled"
        cancelled = acme.cancel_job(waiting.id)
        assert (cancelled.state, cancelled.status) == ("cancelled", "cancelled")
        assert [j.id for j in acme.list_jobs().jobs] == [waiting.id]
    n = saas.domain.one("SELECT COUNT(*) AS n FROM contacts WHERE source <> 'seed'")
    assert n == {"n": 0}


def test_storage_cleanup_fires_hourly_and_deletes_only_expired_files(
    saas: Saas, app_workers: Workers
) -> None:
    schedule = saas.hh.schedules.find("storage:cleanup")
    assert (schedule.cron, schedule.tz, schedule.source, schedule.org_id) == (
        "0 * * * *",
        "UTC",
        "code",
        None,
    )
    assert (schedule.misfire, schedule.overlap, schedule.enabled) == ("once", "skip", True)
    expired = {f: saas.file(f) for f in saas.made.expired_files}
    kept = {f: saas.file(f) for f in saas.made.kept_files}
    assert len(expired) == 9 and len(kept) == 12
    assert all(
        saas.storage.exists(str(r["storage_key"])) for r in [*expired.values(), *kept.values()] if r
    )
    gone = saas.made.expired_files[0]  # an object already deleted: the row still goes
    saas.storage.delete(str(expired[gone]["storage_key"]))  # type: ignore[index]

    now = saas.hh.store.now()
    due = last_fire(schedule, now)  # the last full hour
    saas.hh.store.update_schedule(schedule.id, {"next_fire_at": due})
    [job_id] = saas.hh.scheduler().tick(now)
    run_all(saas, app_workers, [job_id])

    job = saas.hh.get_job(job_id)
    assert (job.state, job.org_id, job.created_by, job.queue) == (
        "completed",
        None,
        None,
        "maintenance",
    )
    assert job.fire_time == due and due.minute == 0
    assert job.result["deleted"] == 9 and job.result["missing"] == 1
    assert job.result["by_kind"] == {"report": 3, "temp": 3, "upload": 3}
    assert job.result["bytes"] == sum(int(r["size"]) for r in expired.values() if r)
    for file_id, row in expired.items():
        assert saas.file(file_id) is None
        assert row is not None and not saas.storage.exists(str(row["storage_key"]))
    for file_id, row in kept.items():
        assert saas.file(file_id) == row
        assert row is not None and saas.storage.exists(str(row["storage_key"]))
    after = saas.hh.schedules.get(schedule.id)
    assert after.next_fire_at is not None and after.next_fire_at > now
    assert after.next_fire_at.minute == 0 and after.next_fire_at.second == 0


def test_users_daily_weekly_monthly_schedules_fire_per_org(
    saas: Saas, app_workers: Workers
) -> None:
    user = saas.made.users[ACME][0]
    with saas.client(ACME) as acme, saas.client(GLOBEX) as globex:
        made = [
            acme.create_schedule(
                f"team-{frequency}",
                "reports:generate",
                cron_for(frequency, "06:00", day),
                tz="Europe/Stockholm",
                input={"period": PERIODS[frequency], "format": "pdf"},
                created_by=user,
            )
            for frequency, day in TEAM_SCHEDULES
        ]
        assert [s.cron for s in made] == ["0 6 * * *", "0 6 * * 5", "0 6 L * *"]
        assert {(s.org_id, s.created_by, s.tz) for s in made} == {(ACME, user, "Europe/Stockholm")}
        with pytest.raises(ApiError) as caught:  # names are unique in an organisation
            acme.create_schedule("team-daily", "reports:generate", cron_for("daily"))
        assert (caught.value.status, caught.value.code) == (400, "invalid_input")
        acme_schedules = acme.list_schedules()
        assert len(acme_schedules) == 6  # the seed's three (one per user) and these
        assert {s.org_id for s in acme_schedules} == {ACME}
        assert {s.org_id for s in globex.list_schedules()} == {GLOBEX}

        # fire every schedule of acme and globex (not initech's): each is due at its last
        # fire time before now (a day to a month ago), which it runs once (misfire 'once')
        now = saas.hh.store.now()
        due = [s for s in saas.hh.schedules.list() if s.org_id in (ACME, GLOBEX)]
        assert len(due) == 9
        fires = {}
        for s in due:
            assert (s.job, s.misfire) == ("reports:generate", "once")
            assert s.next_fire_at is not None and s.next_fire_at > now
            fires[s.id] = last_fire(s, now)
            saas.hh.store.update_schedule(s.id, {"next_fire_at": fires[s.id]})
        ids = saas.hh.scheduler().tick(now)
        assert len(ids) == 9
        run_all(saas, app_workers, ids)

        by_schedule = {s.id: s for s in due}
        for job_id in ids:
            job = saas.hh.get_job(job_id)
            s = by_schedule[job.schedule_id]  # type: ignore[index]
            assert (job.org_id, job.created_by, job.args) == (s.org_id, s.created_by, s.args)
            assert job.state == "completed", job.error
            frequency = s.name.split("-")[1] if s.name.startswith("team-") else s.name.split("-")[0]
            assert job.args["period"] == PERIODS[frequency]  # type: ignore[index]
            assert job.fire_time is not None and job.fire_time == fires[s.id]
            assert job.result["until"] == iso(job.fire_time)
            start, _ = window(job.args["period"], job.fire_time)
            assert job.result["from"] == iso(start)
            row = saas.file(job.result["file_id"])
            assert row is not None and (row["org_id"], row["created_by"]) == (
                s.org_id,
                s.created_by,
            )
        acme_jobs = acme.list_jobs().jobs
        assert len(acme_jobs) == 6 and {j.org_id for j in acme_jobs} == {ACME}
        assert all(j.schedule_id is not None and j.state == "completed" for j in acme_jobs)
        assert len(globex.list_jobs().jobs) == 3
    for s in due:  # each moved on to its next time
        assert saas.hh.schedules.get(s.id).next_fire_at > now  # type: ignore[operator]
    assert saas.hh.list_jobs(org_id=INITECH) == []


def test_the_catalogue_and_its_schedules_are_the_seeds(tmp_path: Path) -> None:
    hh = build(Hourhand(f"sqlite:///{tmp_path}/unused.db"), LocalStorage(tmp_path))
    report, imports, cleanup = (
        hh.spec(n) for n in ("reports:generate", "contacts:import", "storage:cleanup")
    )
    assert (report.queue, report.concurrency, report.max_attempts, report.admin_only) == (
        "reports",
        5,
        3,
        False,
    )
    assert (imports.queue, imports.max_attempts, imports.admin_only) == ("imports", 3, False)
    assert (cleanup.queue, cleanup.max_attempts, cleanup.admin_only) == ("maintenance", 3, True)
    assert list(hh.code_schedules) == ["storage:cleanup"]
    config = REPO / "examples" / "saas" / "hourhand.toml"
    assert hh.load_config(config) == []  # no schedules, alerts or channels in the file
    assert cron_for("daily", "07:30") == "30 7 * * *"
    assert cron_for("weekly") == "0 8 * * 1" and cron_for("monthly", "23:00", 15) == "0 23 15 * *"
    assert window("month", datetime(2026, 3, 31, 8, tzinfo=UTC))[0] == datetime(
        2026, 2, 28, 8, tzinfo=UTC
    )
    assert window("week", datetime(2026, 3, 31, tzinfo=UTC))[0] == datetime(2026, 3, 24, tzinfo=UTC)


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    def data(name: str) -> list[object]:
        url = f"sqlite:///{tmp_path}/{name}.db"
        made = generate(url, scale=1, storage=LocalStorage(tmp_path / name))
        domain = Domain(url)
        return [
            made.counts,
            domain.query("SELECT org_id, email, name FROM contacts ORDER BY id"),
            domain.query("SELECT org_id, amount_cents, status FROM orders ORDER BY id"),
            (tmp_path / name / ACME / "uploads" / "contacts.csv").read_bytes(),
        ]

    first, second = data("one"), data("two")
    assert first == second
    assert first[0] == {
        "orders": 360,
        "contacts": 90,
        "files": 21,
        "users": 9,
        "orgs": 3,
        "schedules": 9,
    }
