"""The data generator: ``python -m examples.saas.seed [--database URL] [--scale N]``.

Creates the domain tables (schema.sql) beside hourhand's and fills them with deterministic
data (a seeded ``random.Random``; times relative to now): per organisation a few users,
contacts, orders over the last 60 days, and files in storage: an upload of contacts to
import (with some bad lines), uploads, temporary files and reports that have expired (for
storage:cleanup) and some that have not. Each user gets a schedule (daily, weekly or
monthly report) through hourhand's user schedules API. Running it again starts over."""

from __future__ import annotations

import argparse
import csv
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.saas import files
from examples.saas.app import build
from examples.saas.schedules import Frequency, report_schedule_name, schedule_report
from examples.saas.storage import LocalStorage, Storage
from hourhand import Hourhand
from hourhand.schedule_model import ScheduleNotFound

SCHEMA = Path(__file__).with_name("schema.sql")
SEED = 2  # the random seed: the same data every time
ORGS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")
PLANS = ("free", "team", "business")
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon")
LAST = ("Berg", "Cruz", "Diaz", "Eklund", "Fox", "Gupta", "Hall", "Ito", "Jansen", "Kim")
ZONES = ("Europe/Stockholm", "America/New_York", "Asia/Kolkata", "UTC")
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "monthly")
TABLES = ("orders", "contacts", "files", "users", "orgs")  # deleted in this order


@dataclass
class Generated:
    """What was made, for the tests and the summary line."""

    orgs: list[str] = field(default_factory=list)
    users: dict[str, list[str]] = field(default_factory=dict)  # org -> user ids
    uploads: dict[str, int] = field(default_factory=dict)  # org -> the upload to import
    expired_files: list[int] = field(default_factory=list)
    kept_files: list[int] = field(default_factory=list)
    schedules: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def org_ids(scale: int) -> list[str]:
    count = 3 * max(1, scale)
    return [
        f"org_{ORGS[i % len(ORGS)]}" + (f"{i // len(ORGS)}" if i >= len(ORGS) else "")
        for i in range(count)
    ]


def person(rng: random.Random, n: int) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first}.{last}{n}@example.com".lower()


def contacts_csv(rng: random.Random, known: list[str], count: int) -> bytes:
    """An upload to import: new people, some already known (updated), and bad lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "company"])
    for n in range(count):
        name, email = person(rng, 1000 + n)
        if n % 5 == 0 and known:
            email = known[(n // 5) % len(known)]  # an update of a known contact
        writer.writerow([email, name, rng.choice(("Initrode", "Vandelay", "", "Hooli"))])
    writer.writerow(["not-an-address", "Nobody", ""])
    writer.writerow(["nameless@example.com", "", ""])
    writer.writerow([email, "Again", ""])  # the last address once more
    return out.getvalue().encode()


def generate(
    url: str, scale: int = 1, *, storage: Storage | None = None, seed: int = SEED
) -> Generated:
    """Create the schema and the data (and the users' schedules) in the database at ``url``."""
    storage = storage or LocalStorage.from_env()
    rng, domain, made = random.Random(seed), Domain(url), Generated()
    domain.create_schema(SCHEMA)
    for table in TABLES:
        domain.execute(f"DELETE FROM {table}")
    start = now()
    hh = build(Hourhand(url), storage)
    try:
        for org in org_ids(scale):
            _org(domain, storage, hh, rng, org, scale, start, made)
    finally:
        hh.close()
    for table in TABLES:
        row = domain.one(f"SELECT COUNT(*) AS n FROM {table}")
        made.counts[table] = int(row["n"]) if row else 0
    made.counts["schedules"] = len(made.schedules)
    return made


def _org(
    domain: Domain,
    storage: Storage,
    hh: Hourhand,
    rng: random.Random,
    org: str,
    scale: int,
    start: datetime,
    made: Generated,
) -> None:
    made.orgs.append(org)
    created = iso(start - timedelta(days=400))
    domain.execute(
        "INSERT INTO orgs (id, name, plan, created_at) VALUES (?, ?, ?, ?)",
        (org, org.removeprefix("org_").title(), rng.choice(PLANS), created),
    )
    users = []
    for n in range(3):
        user = f"{org.removeprefix('org_')}_u{n + 1}"
        name, email = person(rng, n)
        tz = rng.choice(ZONES)
        domain.execute(
            "INSERT INTO users (id, org_id, email, name, tz, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (user, org, email, name, tz, created),
        )
        users.append(user)
        made.schedules.append(_schedule(hh, org, user, FREQUENCIES[n % 3], tz))
    made.users[org] = users
    known = []
    with domain.connect() as conn:
        for n in range(30 * scale):
            name, email = person(rng, n)
            at = iso(start - timedelta(days=rng.uniform(1, 300)))
            conn.execute(
                domain.sql(
                    "INSERT INTO contacts (org_id, email, name, company, source, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, 'seed', ?, ?) ON CONFLICT DO NOTHING"
                ),
                (org, email, name, None, at, at),
            )
            known.append(email)
        for _ in range(120 * scale):
            at = iso(start - timedelta(days=rng.uniform(0, 60)))
            status = rng.choices(("paid", "refunded", "pending"), (8, 1, 1))[0]
            conn.execute(
                domain.sql(
                    "INSERT INTO orders (org_id, contact_email, amount_cents, status, created_at) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                (org, rng.choice(known), rng.randrange(500, 50_000), status, at),
            )
    _files(domain, storage, rng, org, users, known, start, made)


def _files(
    domain: Domain,
    storage: Storage,
    rng: random.Random,
    org: str,
    users: list[str],
    known: list[str],
    start: datetime,
    made: Generated,
) -> None:
    def save(kind: files.FileKind, name: str, data: bytes, age: timedelta, ttl: timedelta) -> int:
        new = files.NewFile(org, kind, f"{org}/{kind}s/{name}", name, "text/csv", users[0])
        return files.save(domain, storage, new, data, ttl=ttl, at=start - age)

    upload = contacts_csv(rng, known, 40)
    made.uploads[org] = save(
        "upload", "contacts.csv", upload, timedelta(minutes=5), files.UPLOAD_TTL
    )
    made.kept_files.append(made.uploads[org])
    # expired: an upload two days old, a temporary file of yesterday, a report of last month
    made.expired_files += [
        save("upload", "old-contacts.csv", upload, timedelta(days=2), files.UPLOAD_TTL),
        save("temp", "export.part", b"partial,export\n", timedelta(hours=20), files.TEMP_TTL),
        save(
            "report", "orders-month-old.csv", b"date,orders\n", timedelta(days=30), files.REPORT_TTL
        ),
    ]
    # not yet: a temporary file of a minute ago, a report of yesterday
    made.kept_files += [
        save("temp", "import.tmp", b"email\n", timedelta(minutes=1), files.TEMP_TTL),
        save("report", "orders-week.csv", b"date,orders\n", timedelta(days=1), files.REPORT_TTL),
    ]
    # and a file kept until deleted (no expiry): a logo
    logo = files.NewFile(org, "upload", f"{org}/logo.png", "logo.png", "image/png", users[0])
    made.kept_files.append(files.save(domain, storage, logo, rng.randbytes(64), ttl=None))


def _schedule(hh: Hourhand, org: str, user: str, frequency: Frequency, tz: str) -> int:
    try:
        found = hh.schedules.find(report_schedule_name(frequency, user), org_id=org)
        hh.schedules.delete(found.id)  # starting over
    except ScheduleNotFound:
        pass
    return schedule_report(hh, org, user, frequency, at="07:30", day=None, tz=tz).id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None, help="default: HOURHAND_DATABASE or sqlite")
    parser.add_argument("--scale", type=int, default=1, help="3 organisations per unit")
    args = parser.parse_args(argv)
    url = args.database or Hourhand().database_url  # HOURHAND_DATABASE, else the default
    made = generate(url, args.scale)
    summary: dict[str, Any] = {"orgs": len(made.orgs), **made.counts}
    print(", ".join(f"{count} {what}" for what, count in summary.items()))
    uploads = ", ".join(f"{org} file {file_id}" for org, file_id in made.uploads.items())
    print(f"uploads to import (contacts:import's file_id): {uploads}")


if __name__ == "__main__":
    main()
