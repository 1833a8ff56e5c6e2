"""generate_stats (hourly): reading statistics, popular books, aggregated ratings.

Each book gets its loans in the last ``window_days`` and in all, its ratings' count and
average, a popularity score (recent loans count double, ratings once, plus the average)
and its rank by that score; each member the books they finished, the pages they read in
the window and their open loans. The tables are rewritten whole, in one transaction, so
the site never shows half an hour's figures mixed with the next.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from examples.common.domain import Domain, iso, now
from hourhand import Hourhand, JobContext, Retry

STATS_QUEUE = "catalogue"
TOP = 5  # the most popular books the result lists


def _by_id(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> dict[int, Any]:
    """``{id: value}`` of a query that selects an id and one value."""
    out: dict[int, Any] = {}
    for row in conn.execute(sql, params):
        key, value = row.values() if isinstance(row, dict) else tuple(row)
        out[int(key)] = value
    return out


def register(hh: Hourhand) -> None:
    @hh.job(
        "generate_stats",
        queue=STATS_QUEUE,
        max_attempts=2,
        retry=Retry.fixed([300]),
        timeout=900,
        concurrency=1,
    )
    def generate_stats(ctx: JobContext, window_days: int = 30) -> dict[str, Any]:
        """Update reading statistics, calculate popular books, aggregate ratings."""
        domain = Domain(hh.database_url)
        sql = domain.sql
        at = now()
        since = (iso(at - timedelta(days=window_days)),)
        with domain.connect() as conn:
            books = [int(r["id"]) for r in conn.execute(sql("SELECT id FROM books ORDER BY id"))]
            recent = _by_id(
                conn,
                sql("SELECT book_id, COUNT(*) FROM loans WHERE borrowed_at >= ? GROUP BY book_id"),
                since,
            )
            total = _by_id(conn, sql("SELECT book_id, COUNT(*) FROM loans GROUP BY book_id"))
            rated = _by_id(conn, sql("SELECT book_id, COUNT(*) FROM ratings GROUP BY book_id"))
            average = _by_id(conn, sql("SELECT book_id, AVG(stars) FROM ratings GROUP BY book_id"))
            scores = {
                b: 2 * recent.get(b, 0) + rated.get(b, 0) + float(average.get(b) or 0)
                for b in books
            }
            ranked = sorted(books, key=lambda b: (-scores[b], b))
            rows = [
                (
                    b,
                    recent.get(b, 0),
                    total.get(b, 0),
                    rated.get(b, 0),
                    None if average.get(b) is None else round(float(average[b]), 2),
                    round(scores[b], 2),
                    rank,
                    iso(at),
                )
                for rank, b in enumerate(ranked, start=1)
            ]
            conn.execute(sql("DELETE FROM book_stats"))
            conn.cursor().executemany(
                sql(
                    "INSERT INTO book_stats (book_id, loans_30d, loans_total, ratings_count, "
                    "avg_rating, popularity, popularity_rank, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )

            members = [int(r["id"]) for r in conn.execute(sql("SELECT id FROM members"))]
            finished = _by_id(
                conn,
                sql(
                    "SELECT member_id, COUNT(DISTINCT book_id) FROM reading_sessions "
                    "WHERE finished = 1 GROUP BY member_id"
                ),
            )
            pages = _by_id(
                conn,
                sql(
                    "SELECT member_id, SUM(pages) FROM reading_sessions WHERE read_at >= ? "
                    "GROUP BY member_id"
                ),
                since,
            )
            open_loans = _by_id(
                conn,
                sql(
                    "SELECT member_id, COUNT(*) FROM loans WHERE returned_at IS NULL "
                    "GROUP BY member_id"
                ),
            )
            conn.execute(sql("DELETE FROM member_stats"))
            conn.cursor().executemany(
                sql(
                    "INSERT INTO member_stats (member_id, books_finished, pages_30d, "
                    "open_loans, updated_at) VALUES (?, ?, ?, ?, ?)"
                ),
                [
                    (m, finished.get(m, 0), int(pages.get(m) or 0), open_loans.get(m, 0), iso(at))
                    for m in members
                ],
            )
        return {"books": len(books), "members": len(members), "most_popular": ranked[:TOP]}
