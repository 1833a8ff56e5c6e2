"""ActivityCleanup, NotificationCleanup and RefreshTokenCleanup: rows past their retention
days are deleted, in batches."""

from __future__ import annotations

from datetime import timedelta

from examples.common.domain import Domain, iso, now
from examples.homes.app import db, hh
from hourhand import JobContext

DAY = timedelta(days=1)


def delete_in_batches(
    ctx: JobContext,
    d: Domain,
    table: str,
    where: str,
    params: tuple[object, ...],
    batch: int,
    pause: float,
) -> int:
    """Delete the rows of ``table`` matching ``where``, ``batch`` rows a transaction, pausing
    ``pause`` seconds between batches, until a batch comes back short (or the job is
    cancelled); the number deleted. (``ExecuteDeleteAsync`` over ``Take(BatchSize)``.)"""
    total = 0
    batch_ids = f"SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT ?"
    statement = d.sql(f"DELETE FROM {table} WHERE id IN ({batch_ids})")
    while not ctx.cancelled:
        with d.connect() as conn:
            deleted = int(conn.execute(statement, (*params, batch)).rowcount)
        total += deleted
        if deleted < batch:
            break
        ctx.cancel_event.wait(pause)  # a short pause between batches
    return total


@hh.job("ActivityCleanup", max_attempts=3)
def activity_cleanup(
    ctx: JobContext, retention_days: int = 90, batch_size: int = 1000, pause_ms: int = 100
) -> dict[str, int]:
    """Delete activity log rows older than ``retention_days``, ``batch_size`` at a time,
    until none are left."""
    cutoff = iso(now() - retention_days * DAY)
    deleted = delete_in_batches(
        ctx, db(), "activities", "created_at < ?", (cutoff,), batch_size, pause_ms / 1000
    )
    ctx.logger.info("ActivityCleanup: Deleted %d activities", deleted)
    return {"deleted": deleted}


@hh.job("NotificationCleanup", max_attempts=3)
def notification_cleanup(
    ctx: JobContext,
    retention_days_read: int = 30,
    retention_days_unread: int = 90,
    batch_size: int = 1000,
    pause_ms: int = 100,
) -> dict[str, int]:
    """Delete read notifications older than ``retention_days_read`` and unread ones older
    than ``retention_days_unread``."""
    d, moment = db(), now()
    read = delete_in_batches(
        ctx,
        d,
        "notifications",
        "is_read = 1 AND created_at < ?",
        (iso(moment - retention_days_read * DAY),),
        batch_size,
        pause_ms / 1000,
    )
    unread = delete_in_batches(
        ctx,
        d,
        "notifications",
        "is_read = 0 AND created_at < ?",
        (iso(moment - retention_days_unread * DAY),),
        batch_size,
        pause_ms / 1000,
    )
    return {"read": read, "unread": unread}


@hh.job("RefreshTokenCleanup", max_attempts=3)
def refresh_token_cleanup(
    ctx: JobContext, batch_size: int = 500, revoked_retention_days: int = 7, pause_ms: int = 100
) -> dict[str, int]:
    """Delete refresh tokens that expired, and revoked ones revoked more than
    ``revoked_retention_days`` ago (the seed's "7 dní")."""
    d, moment = db(), now()
    expired = delete_in_batches(
        ctx, d, "refresh_tokens", "expires_at < ?", (iso(moment),), batch_size, pause_ms / 1000
    )
    revoked = delete_in_batches(
        ctx,
        d,
        "refresh_tokens",
        "revoked_at IS NOT NULL AND revoked_at < ?",
        (iso(moment - revoked_retention_days * DAY),),
        batch_size,
        pause_ms / 1000,
    )
    return {"expired": expired, "revoked": revoked}
