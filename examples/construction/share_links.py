"""share_link_cleanup: nightly, the public links that expired or reached their view limit
are made inactive, a batch at a time, each with an audit event; then the links' events
older than 90 days are deleted, a batch at a time too."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from examples.common.domain import Domain, Row, iso, now
from examples.construction.audit import append_audit_event, log_error
from hourhand import JobContext

logger = logging.getLogger(__name__)

WORKER = "share_link_cleanup"
FAILED_LINKS_LIMIT = 100  # "alert if >100 links fail": over this, the run fails, and is alerted


class CleanupFailed(RuntimeError):
    """Too many links could not be made inactive (each one's error is in audit_logs)."""


def cleanup(
    ctx: JobContext, domain: Domain, *, batch_size: int, events_older_than_days: int
) -> dict[str, Any]:
    """The whole run; returns what it did, with the size of each batch of links."""
    started = now()
    stamp = iso(started)
    batches: list[int] = []
    skipped = failed = 0
    expired = (
        " FROM public_links WHERE active = ?"
        " AND (expires_at < ? OR (max_views IS NOT NULL AND view_count >= max_views))"
    )
    counted = domain.one(f"SELECT COUNT(*) AS n{expired}", (True, stamp))
    total = int(counted["n"]) if counted else 0
    after = 0  # keyset: the last link id looked at, so a link that fails is not retried here
    while True:
        links = domain.query(
            f"SELECT id, tenant_id, resource_type, resource_id{expired}"
            " AND id > ? ORDER BY id LIMIT ?",
            (True, stamp, after, batch_size),
        )
        if not links:
            break
        after = links[-1]["id"]
        done, batch_failed = deactivate_batch(domain, links)
        batches.append(done)
        skipped += len(links) - done - batch_failed
        failed += batch_failed
        seen = sum(batches) + skipped + failed
        ctx.progress(90 * seen // max(total, seen), f"{seen} of {total} links handled")
    cutoff = iso(started - timedelta(days=events_older_than_days))
    cleaned = 0
    while True:  # "remove old events (>90 days)", a batch per short transaction
        deleted = domain.execute(
            "DELETE FROM public_link_events WHERE id IN"
            " (SELECT id FROM public_link_events WHERE created_at < ? ORDER BY id LIMIT ?)",
            (cutoff, batch_size),
        )
        cleaned += deleted
        if deleted < batch_size:
            break
    result = {
        "deactivated": sum(batches),
        "batches": batches,
        "skipped": skipped,
        "failed": failed,
        "cleaned_events": cleaned,
    }
    if failed > FAILED_LINKS_LIMIT:
        raise CleanupFailed(f"{failed} links could not be made inactive (see audit_logs)")
    return result


def deactivate_batch(domain: Domain, links: list[Row]) -> tuple[int, int]:
    """Make a batch of links inactive in one transaction; (made inactive, failed). If the
    batch fails, each link is tried in a transaction of its own, and the ones that fail
    are logged ("log errors but go on with the next link")."""
    try:
        with domain.connect() as conn:
            return sum(_deactivate(domain, conn, link) for link in links), 0
    except Exception as exc:  # which link? one at a time
        logger.info("a batch of %d links failed (%s): one link at a time", len(links), exc)
    done = failed = 0
    for link in links:
        try:
            with domain.connect() as conn:
                done += _deactivate(domain, conn, link)
        except Exception as exc:
            failed += 1
            log_error(
                domain,
                worker=WORKER,
                tenant_id=link["tenant_id"],
                table_name="public_links",
                record_id=link["id"],
                error=exc,
            )
    return done, failed


def _deactivate(domain: Domain, conn: Any, link: Row) -> int:
    """1 if the link was made inactive, 0 if it was no longer active (someone changed it
    meanwhile: "link in use during cleanup: skip, by the active check")."""
    changed = conn.execute(
        domain.sql(
            "UPDATE public_links SET active = ?, updated_at = ? WHERE id = ? AND active = ?"
        ),
        (False, iso(now()), link["id"], True),
    ).rowcount
    if changed != 1:
        return 0
    append_audit_event(
        domain,
        conn,
        tenant_id=link["tenant_id"],
        table_name="public_links",
        record_id=link["id"],
        action="update",
        old_values={"active": True},
        new_values={"active": False},
        changed_fields=["active"],
        metadata={"reason": "expired_or_max_views", "worker": WORKER},
    )
    return 1
