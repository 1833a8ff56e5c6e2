"""The catalogue's jobs: refresh_metadata (daily, 03:00) and cleanup_orphans (Sundays,
04:00).

refresh_metadata looks up books whose metadata is stale (older than ``max_age_days``),
missing, or was never fetched, in an Open Library style catalogue (settings.py), fills
and updates their fields and downloads a cover when the catalogue has a new one. A
replaced cover stays on disk until cleanup_orphans removes it: files are written before
the rows that point at them, so a crash leaves a stray file, never a row without a file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2

from examples.common.domain import Domain, Row, iso, now
from examples.library import settings
from hourhand import Hourhand, JobContext, Retry

USER_AGENT = "riverside-library/1.0 (hourhand example; library@riverside.example.org)"
CATALOGUE_QUEUE = "catalogue"
MAINTENANCE_QUEUE = "maintenance"


class CatalogueDown(Exception):
    """Every lookup of a run failed: the catalogue is down, not the books."""


def _description(value: Any) -> str | None:
    """Open Library gives a description as text or as ``{"type": ..., "value": text}``."""
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) and value.strip() else None


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _stale_books(domain: Domain, max_age_days: int, batch: int) -> list[Row]:
    cutoff = iso(now() - timedelta(days=max_age_days))
    return domain.query(
        "SELECT id, isbn, cover_asset_id, cover_source_id FROM books "
        "WHERE metadata_refreshed_at IS NULL OR metadata_refreshed_at < ? "
        "OR (metadata_status = 'ok' AND (page_count IS NULL OR description IS NULL "
        "    OR cover_asset_id IS NULL)) "
        "ORDER BY COALESCE(metadata_refreshed_at, ''), id LIMIT ?",
        (cutoff, batch),
    )


def _save_cover(domain: Domain, client: httpx2.Client, book: Row, cover_id: int) -> int:
    """Download a cover, write its file, then its asset row; the row's id."""
    answer = client.get(f"{settings.covers_url()}/b/id/{cover_id}-M.jpg")
    answer.raise_for_status()
    path = f"covers/{book['id']}-{cover_id}.jpg"
    file = settings.assets_dir() / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(answer.content)
    with domain.connect() as conn:
        sql = domain.sql
        found = conn.execute(sql("SELECT id FROM assets WHERE path = ?"), (path,)).fetchone()
        if found is not None:
            conn.execute(
                sql("UPDATE assets SET bytes = ?, created_at = ? WHERE id = ?"),
                (len(answer.content), iso(now()), found["id"]),
            )
            return int(found["id"])
        row = conn.execute(
            sql(
                "INSERT INTO assets (book_id, kind, path, bytes, created_at) "
                "VALUES (?, 'cover', ?, ?, ?) RETURNING id"
            ),
            (book["id"], path, len(answer.content), iso(now())),
        ).fetchone()
        return int(row["id"])


def _refresh_one(domain: Domain, client: httpx2.Client, book: Row) -> str:
    """Look one book up; what became of it: ok, not_found, or error."""
    answer = client.get(f"{settings.metadata_url()}/isbn/{book['isbn']}.json")
    if answer.status_code == 404:
        domain.execute(
            "UPDATE books SET metadata_status = 'not_found', metadata_refreshed_at = ? "
            "WHERE id = ?",
            (iso(now()), book["id"]),
        )
        return "not_found"
    answer.raise_for_status()
    record = answer.json()
    cover_asset, cover_source = book["cover_asset_id"], book["cover_source_id"]
    cover_id = _first(record.get("covers"))
    new_cover = cover_asset is None or cover_source != str(cover_id)
    if isinstance(cover_id, int) and cover_id > 0 and new_cover:
        cover_asset, cover_source = _save_cover(domain, client, book, cover_id), str(cover_id)
    pages = record.get("number_of_pages")
    domain.execute(
        "UPDATE books SET publisher = COALESCE(?, publisher), "
        "publish_date = COALESCE(?, publish_date), page_count = COALESCE(?, page_count), "
        "description = COALESCE(?, description), cover_asset_id = ?, cover_source_id = ?, "
        "metadata_status = 'ok', metadata_refreshed_at = ? WHERE id = ?",
        (
            _first(record.get("publishers")),
            record.get("publish_date"),
            pages if isinstance(pages, int) else None,
            _description(record.get("description")),
            cover_asset,
            cover_source,
            iso(now()),
            book["id"],
        ),
    )
    return "ok"


def _inside(folder: Path, relative: str) -> Path | None:
    """The file at ``relative`` under ``folder``, or None if the path leaves it."""
    root = folder.resolve()
    file = (root / relative).resolve()
    return file if file.is_relative_to(root) else None


def register(hh: Hourhand) -> None:
    @hh.job(
        "refresh_metadata",
        queue=CATALOGUE_QUEUE,
        max_attempts=3,
        retry=Retry.exponential(base=300, cap=3600),
        timeout=1800,
        concurrency=1,
    )
    def refresh_metadata(
        ctx: JobContext, max_age_days: int = 30, batch: int = 200
    ) -> dict[str, int]:
        """Update stale metadata, fill missing fields, refresh cover images."""
        domain = Domain(hh.database_url)
        books = _stale_books(domain, max_age_days, batch)
        counts = {"checked": len(books), "ok": 0, "not_found": 0, "errors": 0}
        first_error = ""
        headers = {"User-Agent": USER_AGENT}
        timeout = settings.HTTP_TIMEOUT
        with httpx2.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
            for i, book in enumerate(books):
                if ctx.cancelled:
                    raise RuntimeError("stopped on request")
                try:
                    counts[_refresh_one(domain, client, book)] += 1
                except httpx2.HTTPError as exc:  # the book stays stale: the next run retries it
                    counts["errors"] += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"
                if i % 20 == 19:
                    ctx.progress(100 * (i + 1) / len(books), f"{i + 1} of {len(books)} books")
        if books and counts["errors"] == len(books):
            raise CatalogueDown(f"all {len(books)} lookups failed; the first: {first_error}")
        if counts["errors"]:
            ctx.logger.warning("%d of %d lookups failed", counts["errors"], len(books))
        return counts

    @hh.job(
        "cleanup_orphans",
        queue=MAINTENANCE_QUEUE,
        max_attempts=2,
        retry=Retry.fixed([600]),
        timeout=1800,
        concurrency=1,
    )
    def cleanup_orphans(ctx: JobContext, grace_hours: int = 24) -> dict[str, int]:
        """Remove cover files and rows no book points at, rows whose file is gone, and
        files no row knows; anything younger than ``grace_hours`` is left (an upload or a
        refresh in progress)."""
        domain = Domain(hh.database_url)
        folder = settings.assets_dir()
        cutoff = now() - timedelta(hours=grace_hours)
        counts = {"orphan_rows": 0, "missing_files": 0, "stray_files": 0, "bytes_freed": 0}
        with domain.connect() as conn:
            sql = domain.sql
            used = {
                r["cover_asset_id"]
                for r in conn.execute(
                    sql("SELECT cover_asset_id FROM books WHERE cover_asset_id IS NOT NULL")
                )
            }
            assets = [dict(r) for r in conn.execute(sql("SELECT id, path, created_at FROM assets"))]
            known: set[Path] = set()
            for asset in assets:
                file = _inside(folder, asset["path"])
                present = file if file is not None and file.is_file() else None
                if asset["id"] in used and present is not None:
                    known.add(present)
                elif asset["id"] in used:  # the file is gone: refresh_metadata fetches it again
                    conn.execute(
                        sql(
                            "UPDATE books SET cover_asset_id = NULL, cover_source_id = NULL "
                            "WHERE cover_asset_id = ?"
                        ),
                        (asset["id"],),
                    )
                    conn.execute(sql("DELETE FROM assets WHERE id = ?"), (asset["id"],))
                    counts["missing_files"] += 1
                elif asset["created_at"] < iso(cutoff):
                    if present is not None:
                        counts["bytes_freed"] += present.stat().st_size
                        present.unlink()
                    conn.execute(sql("DELETE FROM assets WHERE id = ?"), (asset["id"],))
                    counts["orphan_rows"] += 1
                elif present is not None:
                    known.add(present)
        # files no row knows (the rows are committed above: a crash here leaves files only)
        limit = cutoff.timestamp()
        root = folder.resolve()
        for file in sorted(root.rglob("*")) if root.is_dir() else []:
            if file.is_file() and file not in known and file.stat().st_mtime < limit:
                counts["bytes_freed"] += file.stat().st_size
                file.unlink()
                counts["stray_files"] += 1
        ctx.logger.info("cleanup: %s", counts)
        return counts
