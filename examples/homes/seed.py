"""The data generator: MujDomecek's domain tables with deterministic data.

    python -m examples.homes.seed [--database URL] [--scale N] [--seed S]

creates the tables (``schema.sql``) and fills them from a seeded ``random.Random``, relative
to now, so that every job has work: drafts of every age (to remind, warn, delete), expired
invitations, old activities and notifications, expired and revoked refresh tokens, failed
sync items due for a retry, and last week's activity to summarise. Document files go to the
object store (``HOMES_STORAGE``, default ``./storage``). An admin who may open ``/hangfire``
is made as ``admin@mujdomecek.cz`` with the password in ``HOMES_ADMIN_PASSWORD``, else a
random one that the command prints.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.homes import storage
from examples.homes.app import SCHEMA
from examples.homes.auth import hash_password
from examples.homes.jobs.sync import configured_delays, next_retry

ADMIN_EMAIL = "admin@mujdomecek.cz"
ADMIN_PASSWORD_VARIABLE = "HOMES_ADMIN_PASSWORD"  # noqa: S105 (a variable's name)
DEFAULT_SEED = 4
DEFAULT_DATABASE = "sqlite:///hourhand.db"  # hourhand's default, in the folder you run from

FIRST = [
    "Jana",
    "Petr",
    "Lucie",
    "Tomáš",
    "Eva",
    "Martin",
    "Kateřina",
    "Jakub",
    "Veronika",
    "Ondřej",
]
LAST = ["Nováková", "Svoboda", "Dvořáková", "Černý", "Procházková", "Kučera", "Veselá", "Horák"]
PROPERTY_NAMES = ["Chalupa", "Byt Praha", "Rodinný dům", "Chata u lesa", "Garáž", "Byt Brno"]
UNITS = ["Kuchyně", "Koupelna", "Obývák", "Sklep", "Půda", "Zahrada"]
TITLES = [
    "Výměna kotle",
    "Revize elektroinstalace",
    "Malování",
    "Oprava střechy",
    "Nová okna",
    "Servis tepelného čerpadla",
    "Kontrola komína",
    "Výměna baterie",
]
COMMENTS = ["Hotovo.", "Objednáno.", "Přidal jsem fakturu.", "Kdy přijde technik?"]
ACTIONS = ["zaznam.created", "zaznam.updated", "document.uploaded", "comment.added", "member.added"]
DAY = timedelta(days=1)


class Writer:
    """Inserts on one connection (one transaction): rows whose ids are needed one by one,
    the others buffered and sent at the end, one batch per table."""

    def __init__(self, conn: Any, d: Domain) -> None:
        self.conn = conn
        self.d = d
        self.rows = 0
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, values: dict[str, Any]) -> int:
        columns, marks = ", ".join(values), ", ".join("?" for _ in values)
        sql = self.d.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id")
        self.rows += 1
        return int(self.conn.execute(sql, tuple(values.values())).fetchone()["id"])

    def later(self, table: str, *rows: dict[str, Any]) -> None:
        self.pending.setdefault(table, []).extend(rows)

    def flush(self) -> None:
        for table, rows in self.pending.items():
            if not rows:
                continue
            columns, marks = ", ".join(rows[0]), ", ".join("?" for _ in rows[0])
            sql = self.d.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})")
            self.conn.cursor().executemany(sql, [tuple(r.values()) for r in rows])
            self.rows += len(rows)
        self.pending.clear()


def _ago(moment: datetime, rng: random.Random, low: float, high: float) -> str:
    """A time between ``low`` and ``high`` days before ``moment``."""
    return iso(moment - rng.uniform(low, high) * DAY)


# Draft ages in days: past DraftCleanup's 30, in DraftReminder's 7-day warning window
# (23-30), past the 3-day reminder, and fresh.
DRAFT_AGES = ((31, 50), (23.5, 29.5), (4, 20), (0.1, 2.5))


def generate(
    url: str,
    scale: int = 1,
    seed: int = DEFAULT_SEED,
    at: datetime | None = None,
    admin_password: str | None = None,
) -> dict[str, int]:
    """Create the schema and the data at ``url`` (times relative to ``at``, default now;
    the admin's password ``admin_password``, default a random one); the rows made."""
    rng = random.Random(seed)
    moment = at or now()
    d = Domain(url)
    d.create_schema(SCHEMA)
    counts: dict[str, int] = {}
    with d.connect() as conn:
        w = Writer(conn, d)
        users = _users(w, rng, moment, 12 * scale, admin_password or secrets.token_urlsafe(12))
        counts["users"] = len(users)
        properties = _homes(w, rng, moment, users[1:])
        zaznamy = _zaznamy(w, rng, moment, properties)
        _activity(w, rng, moment, users, properties)
        _invitations(w, rng, moment, users[1:], properties)
        _tokens(w, rng, moment, users)
        _sync_queue(w, rng, moment, users[1:], zaznamy)
        w.flush()
        counts.update(properties=len(properties), zaznamy=len(zaznamy), rows=w.rows)
    return counts


def _users(
    w: Writer, rng: random.Random, moment: datetime, n: int, password: str
) -> list[dict[str, Any]]:
    users = []
    for i in range(n):
        admin = i == 0
        name = "Správce" if admin else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = ADMIN_EMAIL if admin else f"user{i}@example.cz"
        prefs = {"emailWeeklySummary": admin or rng.random() < 0.75, "language": "cs"}
        values = {
            "name": name,
            "email": email,
            "password_hash": hash_password(password) if admin else None,
            "is_admin": 1 if admin else 0,
            "preferences": json.dumps(prefs),
            "created_at": _ago(moment, rng, 200, 400),
        }
        users.append({"id": w.add("users", values), **values})
    return users


def _homes(
    w: Writer, rng: random.Random, moment: datetime, owners: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Projects, their properties and units, and the members each property is shared with;
    every user has a contact list."""
    properties = []
    for owner in owners:
        project = w.add(
            "projects",
            {
                "owner_id": owner["id"],
                "name": f"Domácnost {owner['name'].split()[-1]}",
                "created_at": _ago(moment, rng, 150, 300),
            },
        )
        for name in rng.sample(PROPERTY_NAMES, rng.randint(1, 2)):
            pid = w.add(
                "properties",
                {"project_id": project, "name": name, "created_at": _ago(moment, rng, 100, 150)},
            )
            units = [
                w.add("units", {"property_id": pid, "name": unit})
                for unit in rng.sample(UNITS, rng.randint(0, 3))
            ]
            others = [u for u in owners if u["id"] != owner["id"]]
            members = rng.sample(others, min(len(others), rng.randint(0, 2)))
            for member in members:
                w.later(
                    "property_members",
                    {
                        "property_id": pid,
                        "user_id": member["id"],
                        "role": rng.choice(["editor", "viewer"]),
                        "created_at": _ago(moment, rng, 0.5, 20),
                    },
                )
            properties.append(
                {
                    "id": pid,
                    "owner": owner["id"],
                    "units": units,
                    "people": [owner["id"]] + [m["id"] for m in members],
                }
            )
        w.later(
            "contacts",
            *[
                {
                    "owner_id": owner["id"],
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "phone": f"+420 {rng.randint(600, 799)} {rng.randint(100, 999)} "
                    f"{rng.randint(100, 999)}",
                    "email": None
                    if rng.random() < 0.3
                    else f"kontakt{rng.randint(1, 999)}@example.cz",
                }
                for _ in range(2)
            ],
        )
    return properties


def _zaznamy(
    w: Writer, rng: random.Random, moment: datetime, properties: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Records of each property (drafts of every age among them), with documents (files in
    the object store) and comments."""
    made = []
    for prop in properties:
        for i in range(8):
            draft = i < 4
            low, high = DRAFT_AGES[i] if draft else (0.2, 60)
            created = moment - rng.uniform(low, high) * DAY
            updated = min(moment, created + rng.uniform(0, 10) * DAY)
            author = rng.choice(prop["people"])
            zid = w.add(
                "zaznamy",
                {
                    "property_id": prop["id"],
                    "unit_id": rng.choice(prop["units"]) if prop["units"] else None,
                    "author_id": author,
                    "title": rng.choice(TITLES),
                    "status": "draft" if draft else "published",
                    "created_at": iso(created),
                    "updated_at": iso(updated),
                    "is_deleted": 0,
                },
            )
            for n in range(rng.randint(0, 2)):
                key = f"documents/{zid}/{uuid.UUID(int=rng.getrandbits(128)).hex}.jpg"
                data = b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(200, 2000))
                storage.put(key, data)
                w.later(
                    "documents",
                    {
                        "zaznam_id": zid,
                        "uploaded_by": author,
                        "file_name": f"foto-{n + 1}.jpg",
                        "content_type": "image/jpeg",
                        "size_bytes": len(data),
                        "storage_key": key,
                        "created_at": iso(created),
                        "is_deleted": 0,
                    },
                )
            age = (moment - created) / DAY
            w.later(
                "comments",
                *[
                    {
                        "zaznam_id": zid,
                        "author_id": rng.choice(prop["people"]),
                        "body": rng.choice(COMMENTS),
                        "created_at": iso(created + rng.uniform(0, min(3, age)) * DAY),
                    }
                    for _ in range(rng.randint(0, 3))
                ],
            )
            made.append({"id": zid, "author": author})
    return made


def _activity(
    w: Writer,
    rng: random.Random,
    moment: datetime,
    users: list[dict[str, Any]],
    properties: list[dict[str, Any]],
) -> None:
    """The activity log (half of it past ActivityCleanup's 90 days) and notifications, read
    and unread, of every age."""
    activities, notifications = [], []
    for user in users:
        for _ in range(120):
            activities.append(
                {
                    "user_id": user["id"],
                    "property_id": rng.choice(properties)["id"],
                    "action": rng.choice(ACTIONS),
                    "created_at": _ago(moment, rng, 0, 180),
                }
            )
        for _ in range(12):
            notifications.append(
                {
                    "user_id": user["id"],
                    "type": "comment_added",
                    "payload": json.dumps({"text": "Nový komentář"}, ensure_ascii=False),
                    "subject_key": None,
                    "is_read": rng.randint(0, 1),
                    "created_at": _ago(moment, rng, 0, 120),
                }
            )
    w.later("activities", *activities)
    w.later("notifications", *notifications)


def _invitations(
    w: Writer,
    rng: random.Random,
    moment: datetime,
    users: list[dict[str, Any]],
    properties: list[dict[str, Any]],
) -> None:
    rows = []
    for user in users:
        for status, expires in (
            ("pending", -rng.uniform(0.1, 5)),
            ("pending", 5),
            ("accepted", -3),
        ):
            prop = rng.choice(properties)
            rows.append(
                {
                    "created_by": user["id"],
                    "email": f"host{rng.randint(1, 9999)}@example.cz",
                    "target_type": "property",
                    "target_id": prop["id"],
                    "status": status,
                    "expires_at": iso(moment + expires * DAY),
                    "created_at": _ago(moment, rng, 8, 12),
                }
            )
    invitee = rng.choice(users)  # one pending invitation for a user of the app
    rows.append(
        {
            "created_by": users[0]["id"],
            "email": invitee["email"],
            "target_type": "project",
            "target_id": 1,
            "status": "pending",
            "expires_at": iso(moment + 6 * DAY),
            "created_at": _ago(moment, rng, 0.5, 1),
        }
    )
    w.later("invitations", *rows)


def _tokens(w: Writer, rng: random.Random, moment: datetime, users: list[dict[str, Any]]) -> None:
    """Refresh tokens: expired, revoked long ago, revoked lately, valid."""
    rows = []
    for user in users:
        for expires, revoked in ((-2, None), (20, -10), (20, -2), (20, None)):
            rows.append(
                {
                    "user_id": user["id"],
                    "token_hash": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "expires_at": iso(moment + expires * DAY),
                    "revoked_at": None if revoked is None else iso(moment + revoked * DAY),
                    "created_at": _ago(moment, rng, 25, 30),
                }
            )
    w.later("refresh_tokens", *rows)


def _sync_queue(
    w: Writer,
    rng: random.Random,
    moment: datetime,
    users: list[dict[str, Any]],
    zaznamy: list[dict[str, Any]],
) -> None:
    """Failed sync items at every retry count, some due now, some later."""
    delays = configured_delays()
    rows = []
    for count in range(5):
        for due in (True, False):
            zaznam = rng.choice(zaznamy)
            failed_at = moment - timedelta(minutes=delays[min(count, len(delays) - 1)] + 1)
            if not due:
                failed_at = moment
            rows.append(
                {
                    "user_id": zaznam["author"],
                    "entity_type": "zaznam",
                    "entity_id": zaznam["id"],
                    "operation": rng.choice(["create", "update", "delete"]),
                    "payload": json.dumps({"title": rng.choice(TITLES)}, ensure_ascii=False),
                    "status": "failed",
                    "retry_count": count,
                    "next_retry_at": iso(next_retry(failed_at, count, delays)),
                    "last_error": "HTTP 503 from the sync service",
                    "created_at": iso(failed_at - DAY),
                }
            )
    w.later("sync_queue", *rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="default: HOURHAND_DATABASE or sqlite")
    parser.add_argument("--scale", type=int, default=1, help="12 users per unit")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    options = parser.parse_args()
    url = options.database or os.environ.get("HOURHAND_DATABASE") or DEFAULT_DATABASE
    d = Domain(url)
    d.create_schema(SCHEMA)
    if d.one("SELECT id FROM users LIMIT 1") is not None:
        print("the database has MujDomecek's data already: nothing generated")
        return
    given = os.environ.get(ADMIN_PASSWORD_VARIABLE)
    password = given or secrets.token_urlsafe(12)
    counts = generate(url, scale=options.scale, seed=options.seed, admin_password=password)
    print(
        f"{counts['rows']} rows: {counts['users']} users, {counts['properties']} properties, "
        f"{counts['zaznamy']} records"
    )
    shown = f"the password in {ADMIN_PASSWORD_VARIABLE}" if given else f"password {password}"
    print(f"sign in at /login as {ADMIN_EMAIL}, {shown}, then open /hangfire")


if __name__ == "__main__":
    main()
