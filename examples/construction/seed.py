"""The data generator: tenants with admins, clients, projects with budgets and the hours and
material that use them up, invoices (one with 250 lines), public links and their events.

    python -m examples.construction.seed [--database URL] [--scale N] [--fresh]

Deterministic (a seeded random.Random); times are relative to now, so some links have just
expired and some events are older than 90 days whenever it runs. It adds nothing to a
database that already has tenants, unless --fresh (which deletes the domain rows first).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from examples.common.domain import Domain, iso, now
from hourhand import Hourhand

SCHEMA = Path(__file__).with_name("schema.sql")
SEED = 0
BIG_INVOICE_LINES = 250  # over the worker's 100-line chunks
TABLES = (  # children first: the order --fresh deletes in
    "audit_logs",
    "notifications",
    "budget_alerts",
    "public_link_events",
    "public_links",
    "invoice_lines",
    "invoices",
    "material_entries",
    "time_entries",
    "project_budgets",
    "projects",
    "clients",
    "users",
    "tenants",
)
TRADES = ("Rivning", "Stomme", "El", "VVS", "Måleri", "Golv", "Tak", "Fönster", "Kakel")
UNITS = (("tim", 65000), ("st", 12900), ("m2", 45000), ("lpm", 8900))


def generate(url: str, scale: int = 1, *, fresh: bool = False) -> dict[str, int]:
    """Create the schema at ``url`` and fill it; the number of rows per table."""
    domain = Domain(url)
    domain.create_schema(SCHEMA)
    with domain.connect() as conn:
        if fresh:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")
        existing = conn.execute("SELECT COUNT(*) AS n FROM tenants").fetchone()
        if int(existing["n"]) == 0:
            _fill(domain, conn, random.Random(SEED), scale)
    counts = {}
    for table in TABLES:
        row = domain.one(f"SELECT COUNT(*) AS n FROM {table}")
        counts[table] = int(row["n"]) if row else 0
    return counts


def _fill(domain: Domain, conn: Any, rng: random.Random, scale: int) -> None:
    moment = now()
    stamp = iso(moment)
    big_done = False
    for t in range(1, 3 * scale + 1):
        tenant = _add(domain, conn, "tenants", {"name": f"Bygg {t} AB"})
        users = [
            _add(
                domain,
                conn,
                "users",
                {
                    "tenant_id": tenant,
                    "name": f"{role} {i}",
                    "email": f"{role}{i}@t{t}.example",
                    "role": role,
                },
            )
            for role, n in (("admin", 2), ("project_manager", 1), ("worker", 4))
            for i in range(1, n + 1)
        ]
        clients = [
            _add(domain, conn, "clients", {"tenant_id": tenant, "name": f"Kund {t}-{i}"})
            for i in range(1, 4)
        ]
        projects = []
        for p in range(1, 6):
            status = "completed" if p == 5 else "active"
            project = _add(
                domain,
                conn,
                "projects",
                {
                    "tenant_id": tenant,
                    "client_id": rng.choice(clients),
                    "name": f"Projekt {t}-{p} {rng.choice(TRADES)}",
                    "status": status,
                },
            )
            projects.append(project)
            if p == 4:
                continue  # a project without a budget: the worker skips it
            _budget(domain, conn, rng, project, users, stamp)
        for i in range(1, 4):
            count = BIG_INVOICE_LINES if not big_done else rng.randint(3, 20)
            big_done = True
            _invoice(domain, conn, rng, tenant, projects, clients, f"F{t:02d}-{i:04d}", count)
        _links(domain, conn, rng, tenant, projects, moment, 100 * scale)


def _budget(
    domain: Domain, conn: Any, rng: random.Random, project: int, users: list[int], stamp: str
) -> None:
    hours_budget = float(rng.choice((200, 400, 800)))
    rate = 65000  # öre per hour
    material_budget = rng.choice((150_000_00, 300_000_00))
    thresholds = [
        {"type": "hours", "percentage": 80, "notify": True},
        {"type": "hours", "percentage": 100, "notify": True},
        {"type": "material", "percentage": 90, "notify": True},
        {"type": "total", "percentage": 75, "notify": rng.random() < 0.7},
    ]
    _add(
        domain,
        conn,
        "project_budgets",
        {
            "project_id": project,
            "hours_budget": hours_budget,
            "material_budget": material_budget,
            "total_budget": int(hours_budget * rate) + material_budget,
            "hourly_rate": rate,
            "alert_thresholds": json.dumps(thresholds),
            "updated_at": stamp,
        },
    )
    used = rng.uniform(0.4, 1.2)  # of the hours budget: some projects pass 80 % or 100 %
    hours = [round(hours_budget * used / 20, 1)] * 20
    _add_many(
        domain,
        conn,
        "time_entries",
        [
            {
                "project_id": project,
                "user_id": rng.choice(users),
                "hours": h,
                "worked_on": (now().date() - timedelta(days=i)).isoformat(),
            }
            for i, h in enumerate(hours)
        ],
    )
    spent = rng.uniform(0.3, 1.1) * material_budget
    _add_many(
        domain,
        conn,
        "material_entries",
        [
            {
                "project_id": project,
                "description": f"{rng.choice(TRADES)}material",
                "amount": int(spent / 5),
                "bought_on": (now().date() - timedelta(days=i)).isoformat(),
            }
            for i in range(5)
        ],
    )


def _invoice(
    domain: Domain,
    conn: Any,
    rng: random.Random,
    tenant: int,
    projects: list[int],
    clients: list[int],
    number: str,
    lines: int,
) -> None:
    issued = now().date() - timedelta(days=rng.randint(0, 60))
    invoice = _add(
        domain,
        conn,
        "invoices",
        {
            "tenant_id": tenant,
            "project_id": rng.choice(projects) if rng.random() < 0.8 else None,  # placeholders
            "client_id": rng.choice(clients) if rng.random() < 0.8 else None,
            "number": number,
            "issued_on": issued.isoformat(),
            "due_on": (issued + timedelta(days=30)).isoformat(),
            "currency": "SEK",
            "updated_at": iso(now()),
        },
    )
    rows = []
    for i in range(1, lines + 1):
        unit, price = rng.choice(UNITS)
        rows.append(
            {
                "invoice_id": invoice,
                "sort_order": i,
                "description": f"{rng.choice(TRADES)}, arbete etapp {i}",
                "unit": unit,
                "quantity": float(rng.randint(1, 40)),
                "unit_price": price,
            }
        )
    _add_many(domain, conn, "invoice_lines", rows)


def _links(
    domain: Domain,
    conn: Any,
    rng: random.Random,
    tenant: int,
    projects: list[int],
    moment: Any,
    count: int,
) -> None:
    for i in range(count):
        created = moment - timedelta(days=rng.randint(1, 200))
        kind = rng.random()
        expires = moment + timedelta(days=rng.randint(1, 30))
        max_views: int | None = None
        views = rng.randint(0, 20)
        if kind < 0.4:  # expired
            expires = moment - timedelta(hours=rng.randint(1, 500))
        elif kind < 0.5:  # used up
            max_views, views = 10, 10 + rng.randint(0, 3)
        link = _add(
            domain,
            conn,
            "public_links",
            {
                "tenant_id": tenant,
                "resource_type": rng.choice(("invoice", "project_photos")),
                "resource_id": rng.choice(projects),
                "token": f"t{tenant}-{i}-{rng.getrandbits(48):x}",
                "active": kind < 0.95,
                "expires_at": iso(expires),
                "max_views": max_views,
                "view_count": views,
                "created_at": iso(created),
                "updated_at": iso(created),
            },
        )
        _add_many(
            domain,
            conn,
            "public_link_events",
            [
                {
                    "link_id": link,
                    "kind": rng.choice(("view", "download")),
                    "created_at": iso(moment - timedelta(days=rng.uniform(0, 180))),
                }
                for _ in range(rng.randint(0, 4))
            ],
        )


def _add(domain: Domain, conn: Any, table: str, values: dict[str, Any]) -> int:
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    row = conn.execute(
        domain.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"),
        tuple(values.values()),
    ).fetchone()
    return int(row["id"])


def _add_many(domain: Domain, conn: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = ", ".join(rows[0])
    marks = ", ".join("?" for _ in rows[0])
    conn.cursor().executemany(
        domain.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})"),
        [tuple(r.values()) for r in rows],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="default: HOURHAND_DATABASE, else sqlite:///hourhand.db")
    parser.add_argument("--scale", type=int, default=1, help="3 tenants per unit (default 1)")
    parser.add_argument("--fresh", action="store_true", help="delete the domain rows first")
    args = parser.parse_args(argv)
    url = Hourhand(args.database).database_url
    counts = generate(url, args.scale, fresh=args.fresh)
    print(", ".join(f"{n} {table}" for table, n in counts.items() if n))


if __name__ == "__main__":
    main()
