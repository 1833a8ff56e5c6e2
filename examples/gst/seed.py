"""Deterministic data for the GST example: three law firms (tenants) with their people,
courts, cases, documents, tasks, hearings, automation rules and a few days of automation
logs and analytics snapshots, all timed relative to ``now`` so that every job finds work.

    python -m examples.gst.seed [--database URL] [--scale N]

The domain tables are created if missing and emptied first (hourhand's are left alone).
What each job finds, per tenant and ``scale``:

- check-sla-and-overdue: ~12 open tasks overdue (4 of them flagged already), 2 due within
  the 15-minute grace, 2 cancelled ones overdue (ignored); open tasks past their SLA.
- send-hearing-reminders: 40 x scale hearings between 1 and 20 hours ahead (over the 100 a
  run takes, at scale 1), 3 reminded already, more next week.
- check-upcoming-deadlines: every advocate and associate has a task due within 24 hours
  (40 x scale people per tenant: over the 100 digests a run sends).
- automation-health-check: in the first tenant one rule fails 40% of its runs, one has been
  silent for 60 hours and one never ran.
- analytics-snapshot: 7 days of history; the first tenant's overdue count is far above its
  average (an anomaly), the others' metrics close to theirs.
"""

from __future__ import annotations

import argparse
import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from examples.common.domain import Domain, iso, now
from examples.gst.db import SCHEMA, insert_rows, to_json
from examples.gst.jobs.analytics import METRIC_TYPE, measure

TABLES = (  # children first, for emptying
    "notification_log",
    "analytics_snapshots",
    "audit_log",
    "automation_logs",
    "automation_rules",
    "hearings",
    "tasks",
    "sla_policies",
    "documents",
    "cases",
    "courts",
    "profiles",
    "tenants",
)
FIRMS = (  # name, e-mail domain, WhatsApp on
    ("Mehta & Associates", "mehta-associates.example", True),
    ("Iyer Tax Chambers", "iyertax.example", False),
    ("Desai GST Advisors", "desaigst.example", False),
)
COURTS = (
    ("GSTAT Ahmedabad Bench", "Ahmedabad"),
    ("GSTAT Principal Bench", "New Delhi"),
    ("Gujarat High Court", "Ahmedabad"),
    ("Commissioner (Appeals) CGST", "Surat"),
    ("Joint Commissioner CGST", "Vadodara"),
    ("Bombay High Court", "Mumbai"),
)
FIRST = ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Neha", "Karan", "Isha", "Arjun", "Meera")
LAST = ("Shah", "Patel", "Iyer", "Mehta", "Desai", "Rao", "Joshi", "Nair", "Kapoor", "Bhatt")
TASKS = (
    "Submit Reply to ASMT-10 Notice",
    "Draft reply to DRC-01 show cause notice",
    "Prepare hearing documents",
    "File appeal in APL-01",
    "Reconcile GSTR-2B with purchase register",
    "Collect client authorisation",
    "Review order-in-original",
    "Compute pre-deposit for appeal",
)
SLA_HOURS = {"Critical": 24, "High": 72, "Medium": 168, "Low": 336}
PRIORITIES = ("Critical", "High", "Medium", "Low")
RULES = (  # name, event, active, actions
    ("Escalate overdue task to partner", "task_overdue", True, [{"type": "notify_partner"}]),
    ("Notify assignee of SLA breach", "sla_violation", True, [{"type": "notify_assignee"}]),
    ("Deadline nudge", "deadline_approaching", True, [{"type": "in_app_notification"}]),
    ("Auto-assign new notices", "notice_received", True, [{"type": "assign_round_robin"}]),
    ("Weekly client report", "weekly_digest", True, [{"type": "email_client"}]),
    ("Hearing outcome follow-up", "hearing_completed", False, [{"type": "create_task"}]),
)


@dataclass
class Data:
    """The rows of all tables, by table, in insertion order."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TABLES})

    def add(self, table: str, **row: Any) -> dict[str, Any]:
        self.tables[table].append(row)
        return row


def generate(
    url: str, scale: float = 1, at: datetime | None = None, seed: int = 1
) -> dict[str, int]:
    """Create the schema at ``url``, empty the domain tables and fill them; rows per table."""
    db = Domain(url)
    db.create_schema(SCHEMA)
    moment = at or now()
    rng = random.Random(seed)
    data = Data()
    for index, firm in enumerate(FIRMS):
        _tenant(data, rng, moment, scale, index, firm)
    with db.connect() as conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        for table in reversed(TABLES):
            insert_rows(conn, db, table, data.tables[table])
    _history(db, data, rng, moment)
    return {table: len(rows) for table, rows in data.tables.items()}


def _tenant(
    data: Data,
    rng: random.Random,
    at: datetime,
    scale: float,
    index: int,
    firm: tuple[str, str, bool],
) -> None:
    name, domain, whatsapp = firm
    tid = _uuid(rng)
    data.add("tenants", id=tid, name=name, time_zone="Asia/Kolkata", whatsapp_enabled=int(whatsapp))

    def person(role: str, n: int) -> dict[str, Any]:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return data.add(
            "profiles",
            id=_uuid(rng),
            tenant_id=tid,
            full_name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}.{role}{n}@{domain}",
            phone=f"+9198{rng.randrange(10**8):08d}",
            role=role,
        )

    for n in range(2):
        person("admin", n)  # they receive the automation health reports
    partners = [person("partner", n) for n in range(3)]
    staff = [person(rng.choice(("advocate", "associate")), n) for n in range(round(40 * scale))]
    courts = [
        data.add("courts", id=_uuid(rng), tenant_id=tid, name=court, city=city)
        for court, city in COURTS
    ]
    cases = []
    for n in range(round(60 * scale)):
        case = data.add(
            "cases",
            id=_uuid(rng),
            tenant_id=tid,
            case_number=f"GST/APL/{2023 + n % 3}/{index + 1}{n:03d}",
            title=f"{rng.choice(LAST)} Traders v. State Tax Officer",
            status="Closed" if rng.random() < 0.15 else "Active",
            owner_id=rng.choice(partners)["id"],
            assigned_to=rng.choice(staff)["id"],
            created_at=iso(at - timedelta(days=rng.randint(30, 700))),
        )
        cases.append(case)
        for d in range(rng.randint(2, 6)):
            data.add(
                "documents",
                id=_uuid(rng),
                tenant_id=tid,
                case_id=case["id"],
                name=f"annexure-{d + 1}.pdf",
                uploaded_at=iso(at - timedelta(days=rng.randint(1, 300))),
            )
    for priority, hours in SLA_HOURS.items():
        data.add("sla_policies", tenant_id=tid, priority=priority, hours=hours)
    _tasks(data, rng, at, tid, cases, staff, overdue=12 if index == 0 else 4)
    _hearings(data, rng, at, tid, cases, courts, round(40 * scale))
    _automation(data, rng, at, tid, degraded=index == 0)


def _tasks(
    data: Data,
    rng: random.Random,
    at: datetime,
    tid: str,
    cases: list[dict[str, Any]],
    staff: list[dict[str, Any]],
    overdue: int,
) -> None:
    def task(due: timedelta, status: str, assignee: dict[str, Any], **extra: Any) -> None:
        priority = extra.pop("priority", rng.choice(PRIORITIES))
        created = extra.pop("created", due - timedelta(days=rng.randint(2, 20)))
        done = extra.pop("done", None)
        data.add(
            "tasks",
            id=_uuid(rng),
            tenant_id=tid,
            case_id=rng.choice(cases)["id"],
            title=rng.choice(TASKS),
            priority=priority,
            status=status,
            assigned_to=assignee["id"],
            due_date=iso(at + due),
            created_at=iso(at + min(created, -timedelta(hours=1))),
            completed_at=None if done is None else iso(at + done),
            is_overdue=extra.pop("is_overdue", 0),
            overdue_since=extra.pop("overdue_since", None),
            sla_breached=extra.pop("sla_breached", 0),
        )

    open_states = ("Not Started", "In Progress", "Review")
    for person in staff:  # everyone has something due in the next 24 hours
        due = timedelta(hours=rng.uniform(1, 22))
        created = -timedelta(hours=rng.uniform(2, 40))
        task(due, rng.choice(open_states), person, created=created)
    for n in range(overdue):  # overdue, the first few flagged by an earlier check
        flagged = n < overdue // 3
        task(
            -timedelta(days=rng.uniform(1, 10)),
            rng.choice(open_states),
            rng.choice(staff),
            is_overdue=int(flagged),
            overdue_since=iso(at - timedelta(hours=12)) if flagged else None,
            sla_breached=int(flagged),
        )
    for _ in range(2):  # due 5 minutes ago: inside the 15-minute grace
        task(
            -timedelta(minutes=5),
            "In Progress",
            rng.choice(staff),
            priority="Low",
            created=-timedelta(days=1),
        )
    for _ in range(2):  # overdue but cancelled: never flagged
        task(-timedelta(days=3), "Cancelled", rng.choice(staff))
    for _ in range(8):  # open, not due for weeks, but created long ago: past their SLA
        task(
            timedelta(days=rng.randint(10, 30)),
            "In Progress",
            rng.choice(staff),
            priority=rng.choice(("Critical", "High")),
            created=-timedelta(days=20),
        )
    for _ in range(30):  # later this month, recently created: nothing to do yet
        task(
            timedelta(days=rng.uniform(2, 30)),
            "Not Started",
            rng.choice(staff),
            priority="Low",
            created=-timedelta(hours=2),
        )
    for _ in range(100):  # done, mostly on time
        due = -timedelta(days=rng.uniform(1, 90))
        late = rng.random() < 0.15
        task(
            due,
            "Completed",
            rng.choice(staff),
            done=due + timedelta(days=2) if late else due - timedelta(days=1),
        )


def _hearings(
    data: Data,
    rng: random.Random,
    at: datetime,
    tid: str,
    cases: list[dict[str, Any]],
    courts: list[dict[str, Any]],
    upcoming: int,
) -> None:
    active = [c for c in cases if c["status"] == "Active"]

    def hearing(offset: timedelta, status: str, reminded: bool = False) -> None:
        data.add(
            "hearings",
            id=_uuid(rng),
            tenant_id=tid,
            case_id=rng.choice(active)["id"],
            court_id=rng.choice(courts)["id"],
            hearing_date=iso(at + offset),
            status=status,
            reminder_sent_at=iso(at - timedelta(hours=20)) if reminded else None,
        )

    for _ in range(upcoming):  # today and tomorrow: to be reminded
        hearing(timedelta(hours=rng.uniform(1, 20)), "Scheduled")
    for _ in range(3):
        hearing(timedelta(hours=rng.uniform(2, 18)), "Scheduled", reminded=True)
    for _ in range(10):
        hearing(timedelta(days=rng.uniform(3, 30)), "Scheduled")
    for _ in range(40):
        status = rng.choices(("Attended", "Adjourned", "Missed", "Cancelled"), (70, 15, 5, 10))[0]
        hearing(-timedelta(days=rng.uniform(1, 120)), status)


def _automation(data: Data, rng: random.Random, at: datetime, tid: str, degraded: bool) -> None:
    rules = {}
    for name, event, active, actions in RULES:
        rules[name] = data.add(
            "automation_rules",
            id=_uuid(rng),
            tenant_id=tid,
            name=name,
            trigger_event=event,
            is_active=int(active),
            actions=to_json(actions),
            created_at=iso(at - timedelta(days=90)),
        )

    def logs(rule: str, count: int, failure_rate: float, hours: tuple[float, float]) -> None:
        for n in range(count):
            failed = n < round(count * failure_rate)
            r = rules[rule]
            data.add(
                "automation_logs",
                id=_uuid(rng),
                tenant_id=tid,
                rule_id=r["id"],
                rule_name=r["name"],
                trigger_event=r["trigger_event"],
                status="failed" if failed else "success",
                actions_executed=to_json({"actions": [] if failed else [{"type": "notify"}]}),
                error_message="SMTP relay refused the message" if failed else None,
                executed_at=iso(at - timedelta(hours=rng.uniform(*hours))),
            )

    logs("Escalate overdue task to partner", 40, 0.025, (0.5, 23))
    logs("Notify assignee of SLA breach", 20, 0.4 if degraded else 0.0, (0.5, 23))
    logs("Deadline nudge", 30, 0.0, (0.5, 23))
    logs("Auto-assign new notices", 5, 0.0, (60, 70) if degraded else (1, 20))
    if not degraded:
        logs("Weekly client report", 2, 0.0, (1, 20))


def _history(db: Domain, data: Data, rng: random.Random, at: datetime) -> None:
    """Seven days of snapshots close to each tenant's metrics now; for the first tenant, a
    history of far fewer overdue tasks (today's count is then an anomaly)."""
    rows = []
    with db.connect() as conn:
        for index, tenant in enumerate(data.tables["tenants"]):
            current = measure(conn, db, tenant["id"], at)
            for back in range(1, 8):
                day = (at - timedelta(days=back)).astimezone(ZoneInfo(tenant["time_zone"])).date()
                value = {k: v * rng.uniform(0.95, 1.05) for k, v in current.items()}
                value = {
                    k: round(v, 4) if isinstance(current[k], float) else round(v)
                    for k, v in value.items()
                }
                if index == 0:
                    value["overdue_tasks"] = max(1, current["overdue_tasks"] // 4)
                value["anomaly_detected"] = False
                rows.append(
                    {
                        "id": _uuid(rng),
                        "tenant_id": tenant["id"],
                        "metric_type": METRIC_TYPE,
                        "snapshot_date": day.isoformat(),
                        "metric_value": to_json(value),
                        "created_at": iso(at - timedelta(days=back)),
                    }
                )
        insert_rows(conn, db, "analytics_snapshots", rows)
    data.tables["analytics_snapshots"] = rows


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        default=os.environ.get("HOURHAND_DATABASE", "sqlite:///hourhand.db"),
        help="database URL (default: HOURHAND_DATABASE, else sqlite:///hourhand.db)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="people, cases and hearings x N")
    args = parser.parse_args(argv)
    counts = generate(args.database, scale=args.scale)
    print(", ".join(f"{n} {table}" for table, n in reversed(counts.items())))


if __name__ == "__main__":
    main()
