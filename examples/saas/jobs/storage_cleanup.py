"""``storage:cleanup``: the seed's system job, hourly. Deletes every file whose
``expires_at`` has passed (expired uploads, temporary files, old reports): the object in
the storage provider first, then its row, a batch at a time. An object already gone is
fine (a run that crashed between the two finishes the job). It belongs to no organisation
and only cluster admins may run it by hand (``admin_only``): an organisation's key gets 403."""

from __future__ import annotations

from collections import Counter
from typing import Any

from examples.common.domain import iso, now
from examples.saas.jobs import Services
from hourhand import Hourhand, JobContext, JobHandle, Retry

JOB_TYPE = "storage:cleanup"
CRON = "0 * * * *"  # hourly, as the seed's `jobQueue.schedule("storage:cleanup", "0 * * * *")`
BATCH_SIZE = 500  # files per transaction


def register_storage_cleanup(hh: Hourhand, services: Services) -> JobHandle[..., dict[str, Any]]:
    @hh.cron(
        CRON,
        name=JOB_TYPE,
        queue="maintenance",
        misfire="once",  # back after a scheduler outage: one run catches up
        max_attempts=3,
        retry=Retry.fixed([60, 300]),
        timeout=900,
        admin_only=True,
    )
    def storage_cleanup(ctx: JobContext, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
        domain, storage = services.domain, services.storage
        cutoff = iso(now())
        expired = "expires_at IS NOT NULL AND expires_at <= ?"
        total = domain.one(f"SELECT COUNT(*) AS n FROM files WHERE {expired}", (cutoff,))
        todo = int(total["n"]) if total else 0
        kinds: Counter[str] = Counter()
        freed = missing = 0
        while True:
            rows = domain.query(
                f"SELECT id, kind, storage_key, size FROM files WHERE {expired} "
                "ORDER BY id LIMIT ?",
                (cutoff, max(1, batch_size)),
            )
            if not rows:
                break
            for row in rows:
                if not storage.delete(row["storage_key"]):
                    missing += 1
                kinds[row["kind"]] += 1
                freed += int(row["size"])
            marks = ", ".join("?" for _ in rows)
            domain.execute(f"DELETE FROM files WHERE id IN ({marks})", [r["id"] for r in rows])
            deleted = sum(kinds.values())
            ctx.progress(min(100.0, 100.0 * deleted / max(1, todo)), f"deleted {deleted} files")
        deleted = sum(kinds.values())
        ctx.logger.info(
            "deleted %d expired files (%d bytes, %d already gone)", deleted, freed, missing
        )
        return {
            "deleted": deleted,
            "bytes": freed,
            "missing": missing,
            "by_kind": dict(sorted(kinds.items())),
            "expired_before": cutoff,
        }

    return storage_cleanup
