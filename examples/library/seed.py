"""The library's data generator: creates the schema and fills it with members, books,
cover files, loans, holds, ratings, reading sessions, sign-in sessions, linked accounts
and a few queued notifications, deterministic for a given seed and scale (times are
relative to now). It replaces the domain rows a previous run made.

    python -m examples.library.seed [--database URL] [--scale N] [--assets DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.library import settings
from examples.library.upstream import REVOKED_PREFIX, cover_bytes

SCHEMA = Path(__file__).with_name("schema.sql")
TABLES = (  # every domain table, in an order that deletes cleanly
    "notifications",
    "member_stats",
    "book_stats",
    "oauth_tokens",
    "sessions",
    "reading_sessions",
    "ratings",
    "holds",
    "loans",
    "books",
    "assets",
    "members",
)
FIRST = ("Ada", "Bo", "Chen", "Dana", "Eli", "Farah", "Goran", "Hana", "Ivo", "Jana", "Karl")
LAST = ("Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Torres", "Ueda", "Varga")
WORDS = ("Silent", "River", "Glass", "Orchard", "Winter", "Letters", "Harbour", "Atlas", "Ember")
AUTHORS = ("M. Alder", "R. Birch", "S. Cedar", "T. Dune", "U. Elm", "V. Fern")
FIRST_ISBN = "9780140328721"  # Open Library's own example (Fantastic Mr Fox): found live
DAY = timedelta(days=1)


def isbn13(rng: random.Random) -> str:
    """A random ISBN-13 with a correct check digit."""
    digits = [9, 7, 8] + [rng.randrange(10) for _ in range(9)]
    total = sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def generate(
    url: str,
    scale: int = 1,
    *,
    assets: str | Path | None = None,
    seed: int = 3,
    at: datetime | None = None,
) -> dict[str, int]:
    """Create the schema at ``url`` and generate the data; the rows made per table."""
    rng = random.Random(seed)
    moment = at or now()
    folder = Path(assets) if assets is not None else settings.assets_dir()
    domain = Domain(url)
    domain.create_schema(SCHEMA)
    with domain.connect() as conn:  # one transaction: all of it or nothing
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        made = _Maker(domain, conn, rng, moment, folder)
        made.members(40 * scale)
        made.books(60 * scale)
        made.loans(100 * scale)
        made.holds(15 * scale)
        made.ratings(150 * scale)
        made.reading(200 * scale)
        made.sessions(80 * scale)
        made.tokens(30 * scale)
        made.notifications(5 * scale)
    return made.counts


class _Maker:
    def __init__(
        self, domain: Domain, conn: Any, rng: random.Random, at: datetime, assets: Path
    ) -> None:
        self.d, self.conn, self.rng, self.at, self.assets = domain, conn, rng, at, assets
        self.counts: dict[str, int] = {}
        self.member_ids: list[int] = []
        self.book_ids: list[int] = []

    def ago(self, days: float) -> str:
        return iso(self.at - days * DAY)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows (each with the columns it has); their ids."""
        ids = []
        for row in rows:
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            statement = self.d.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id")
            ids.append(int(self.conn.execute(statement, tuple(row.values())).fetchone()["id"]))
        self.counts[table] = self.counts.get(table, 0) + len(ids)
        return ids

    def members(self, n: int) -> None:
        rows = []
        for i in range(n):
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            rows.append(
                {
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}.{i}@members.example.org",
                    "joined_at": self.ago(self.rng.uniform(30, 900)),
                }
            )
        self.member_ids = self._insert("members", rows)

    def books(self, n: int) -> None:
        """A third refreshed lately (with covers), a third stale, a third never looked up."""
        isbns = [FIRST_ISBN]
        while len(isbns) < n:
            isbn = isbn13(self.rng)
            if isbn not in isbns:
                isbns.append(isbn)
        for i, isbn in enumerate(isbns):
            kind = ("pending", "fresh", "stale")[i % 3]
            title = " ".join(self.rng.sample(WORDS, 2))
            row: dict[str, Any] = {
                "isbn": isbn,
                "title": f"The {title}",
                "author": self.rng.choice(AUTHORS),
                "metadata_status": "pending" if kind == "pending" else "ok",
                "added_at": self.ago(self.rng.uniform(1, 400)),
            }
            if kind != "pending":
                row |= {
                    "publisher": "Vintage",
                    "page_count": self.rng.randrange(120, 600),
                    "description": "From the shelves.",
                    "metadata_refreshed_at": self.ago(
                        self.rng.uniform(1, 20) if kind == "fresh" else self.rng.uniform(40, 90)
                    ),
                }
            (book_id,) = self._insert("books", [row])
            self.book_ids.append(book_id)
            if kind != "pending":
                cover = self._cover(book_id, str(self.rng.randrange(10**6)), days=60)
                self.conn.execute(
                    self.d.sql("UPDATE books SET cover_asset_id = ? WHERE id = ?"), (cover, book_id)
                )
        self._orphans()

    def _cover(self, book_id: int | None, source: str, days: float, write: bool = True) -> int:
        path = f"covers/{book_id or 0}-{source}.jpg"
        body = cover_bytes(int(source))
        if write:
            self._write(path, body, days)
        (asset,) = self._insert(
            "assets",
            [
                {
                    "book_id": book_id,
                    "kind": "cover",
                    "path": path,
                    "bytes": len(body),
                    "created_at": self.ago(days),
                }
            ],
        )
        return asset

    def _write(self, path: str, body: bytes, days: float) -> None:
        file = self.assets / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)
        mtime = (self.at - days * DAY).timestamp()
        os.utime(file, (mtime, mtime))

    def _orphans(self) -> None:
        """What cleanup_orphans finds: covers that were replaced (rows no book points
        at, with their files), rows whose file is gone, files no row knows; and a file
        written a moment ago, which it must leave alone (an upload in progress)."""
        for book_id in self.rng.sample(self.book_ids, 5):
            self._cover(book_id, str(self.rng.randrange(10**6)), days=10)
        for _ in range(2):
            self._cover(None, str(self.rng.randrange(10**6)), days=10, write=False)
        for i in range(3):
            self._write(f"covers/stray-{i}.jpg", cover_bytes(i), days=5)
        self._write("covers/uploading.jpg", cover_bytes(99), days=0)

    def loans(self, n: int) -> None:
        """Returned ones (history), open ones due later, due within two days, overdue."""
        rows = []
        for i in range(n):
            kind = ("returned",) * 6 + ("later", "later", "soon", "overdue")
            borrowed = self.rng.uniform(1, 90)
            row: dict[str, Any] = {
                "book_id": self.rng.choice(self.book_ids),
                "member_id": self.rng.choice(self.member_ids),
                "borrowed_at": self.ago(borrowed),
            }
            match kind[i % len(kind)]:
                case "returned":
                    row |= {
                        "due_at": self.ago(borrowed - 21),
                        "returned_at": self.ago(borrowed / 2),
                    }
                case "later":
                    row |= {"due_at": self.ago(-self.rng.uniform(3, 20))}
                case "soon":
                    row |= {"due_at": self.ago(-self.rng.uniform(0.1, 1.9))}
                case _:
                    row |= {"due_at": self.ago(self.rng.uniform(1.5, 60))}
            rows.append(row)
        self._insert("loans", rows)

    def holds(self, n: int) -> None:
        """Waiting, ready and not yet told, ready with the pickup time passed, collected."""
        rows = []
        for i in range(n):
            row: dict[str, Any] = {
                "book_id": self.rng.choice(self.book_ids),
                "member_id": self.rng.choice(self.member_ids),
                "placed_at": self.ago(self.rng.uniform(10, 30)),
            }
            match i % 5:
                case 0 | 1:
                    row |= {"status": "waiting"}
                case 2:
                    row |= {"status": "ready", "ready_at": self.ago(0.5)}
                case 3:
                    row |= {
                        "status": "ready",
                        "ready_at": self.ago(9),
                        "notified_at": self.ago(9),
                        "pickup_by": self.ago(2),
                    }
                case _:
                    row |= {"status": "collected", "ready_at": self.ago(8)}
            rows.append(row)
        self._insert("holds", rows)

    def ratings(self, n: int) -> None:
        pairs = {
            (self.rng.choice(self.book_ids), self.rng.choice(self.member_ids)) for _ in range(n)
        }
        rows = [
            {"book_id": b, "member_id": m, "stars": self.rng.randint(1, 5), "rated_at": self.ago(5)}
            for b, m in sorted(pairs)
        ]
        self._insert("ratings", rows)

    def reading(self, n: int) -> None:
        rows = [
            {
                "member_id": self.rng.choice(self.member_ids),
                "book_id": self.rng.choice(self.book_ids),
                "pages": self.rng.randrange(5, 80),
                "finished": int(self.rng.random() < 0.15),
                "read_at": self.ago(self.rng.uniform(0.1, 60)),
            }
            for _ in range(n)
        ]
        self._insert("reading_sessions", rows)

    def sessions(self, n: int) -> None:
        """A quarter expired, a few idle for over 30 days (not expired), the rest live."""
        rows = []
        for i in range(n):
            seen = self.rng.uniform(0, 2)
            expires = -self.rng.uniform(1, 14)
            if i % 4 == 0:
                seen, expires = self.rng.uniform(15, 20), self.rng.uniform(0.01, 5)
            elif i % 16 == 1:
                seen, expires = self.rng.uniform(35, 50), -self.rng.uniform(10, 30)
            rows.append(
                {
                    "member_id": self.rng.choice(self.member_ids),
                    "token_hash": f"{self.rng.getrandbits(128):032x}",
                    "created_at": self.ago(seen + 1),
                    "last_seen_at": self.ago(seen),
                    "expires_at": self.ago(expires),
                }
            )
        self._insert("sessions", rows)

    def tokens(self, n: int) -> None:
        """A third expire within six hours (some of those revoked by the provider)."""
        rows = []
        for i, member in enumerate(self.rng.sample(self.member_ids, min(n, len(self.member_ids)))):
            soon = i % 3 == 0
            revoked = soon and i % 9 == 0
            rows.append(
                {
                    "member_id": member,
                    "provider": "bookshelf",
                    "access_token": f"at-{self.rng.getrandbits(64):016x}",
                    "refresh_token": (REVOKED_PREFIX if revoked else "rt-")
                    + f"{self.rng.getrandbits(64):016x}",
                    "expires_at": self.ago(-self.rng.uniform(0.02, 0.24) if soon else -2),
                }
            )
        self._insert("oauth_tokens", rows)

    def notifications(self, n: int) -> None:
        """Announcements already queued, waiting for send_notifications."""
        rows = [
            {
                "member_id": member,
                "kind": "announcement",
                "variables": json.dumps(
                    {"subject": "New opening hours", "message": "We now open at 8 on Saturdays."}
                ),
                "status": "pending",
                "created_at": self.ago(0.01),
            }
            for member in self.member_ids[:n]
        ]
        self._insert("notifications", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the library example's data.")
    parser.add_argument(
        "--database",
        default=os.environ.get("HOURHAND_DATABASE") or "sqlite:///hourhand.db",
        help="the database URL (default: HOURHAND_DATABASE, else sqlite:///hourhand.db)",
    )
    parser.add_argument("--scale", type=int, default=1, help="multiply every count by this")
    parser.add_argument("--assets", help=f"the covers' folder (default: {settings.ASSETS_DIR})")
    options = parser.parse_args()
    counts = generate(options.database, options.scale, assets=options.assets)
    print(", ".join(f"{count} {table}" for table, count in counts.items()))


if __name__ == "__main__":
    main()
