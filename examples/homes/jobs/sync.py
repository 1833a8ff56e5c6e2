"""SyncRetry: offline changes that failed to reach the sync service are tried again, every 5
minutes, on the seed's backoff (``RetryDelayMinutes`` 5, 15, 60, 240, 1440), and given up
after ``MaxRetries`` with a notification to their user.

The backoff is the items' own (they are rows of ``sync_queue``, not jobs): an item that
failed when the app first sent it is due 5 minutes later (:func:`record_failure`), then 15,
60, 240 and 1440 minutes after each failed retry. The sync service is an HTTP endpoint
(``HOMES_SYNC_URL``) that takes each item as JSON.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from examples.common.domain import Domain, iso, now
from examples.homes.app import configured, db, hh
from examples.homes.jobs.common import json_value, notify
from hourhand import JobContext

SYNC_URL_ENV = "HOMES_SYNC_URL"
SYNC_TIMEOUT = 10.0  # seconds per item
DEFAULT_DELAYS = (5, 15, 60, 240, 1440)  # minutes


class SyncFailed(Exception):
    """The sync service did not take an item."""


def configured_delays() -> list[int]:
    """``retry_delay_minutes`` of ``[schedules.SyncRetry]`` in the config file the app read
    (``hourhand serve`` reads ./hourhand.toml; other processes :func:`configured`), so the
    file is the one place that says it."""
    spec = configured().config_schedules.get("SyncRetry")
    delays = spec.args.get("retry_delay_minutes") if spec is not None else None
    return [int(d) for d in delays] if delays else list(DEFAULT_DELAYS)


def next_retry(moment: datetime, retry_count: int, delays: Sequence[int]) -> datetime:
    """The seed's ``CalculateNextRetry``: ``delays[min(retry_count, len - 1)]`` minutes on."""
    return moment + timedelta(minutes=delays[min(retry_count, len(delays) - 1)])


def record_failure(
    d: Domain,
    user_id: int,
    entity_type: str,
    entity_id: int,
    operation: str,
    payload: dict[str, Any],
    error: str,
    delays: Sequence[int],
    at: datetime | None = None,
) -> int:
    """Queue a change whose first sync failed: due for SyncRetry ``delays[0]`` minutes
    later. Its id."""
    moment = at or now()
    return d.insert(
        "sync_queue",
        {
            "user_id": user_id,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "operation": operation,
            "payload": json.dumps(payload, ensure_ascii=False),
            "status": "failed",
            "retry_count": 0,
            "next_retry_at": iso(next_retry(moment, 0, delays)),
            "last_error": error,
            "created_at": iso(moment),
        },
    )


def process(item: dict[str, Any]) -> None:
    """Send one item to the sync service (the seed's ``_syncService.ProcessAsync``)."""
    url = os.environ.get(SYNC_URL_ENV)
    if not url or not url.startswith(("http://", "https://")):
        raise SyncFailed(f"no sync service configured ({SYNC_URL_ENV}: an http(s) URL)")
    body = {
        "id": item["id"],
        "userId": item["user_id"],
        "entityType": item["entity_type"],
        "entityId": item["entity_id"],
        "operation": item["operation"],
        "payload": json_value(item["payload"]),
    }
    request = urllib.request.Request(  # noqa: S310 (an http(s) URL: checked above)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SYNC_TIMEOUT) as answer:  # noqa: S310
            answer.read()
    except urllib.error.HTTPError as exc:
        raise SyncFailed(f"HTTP {exc.code} from the sync service") from None
    except OSError as exc:
        raise SyncFailed(f"sync service unreachable: {type(exc).__name__}") from None


DUE = (
    "SELECT * FROM sync_queue WHERE status = 'failed' AND retry_count < ?"
    " AND next_retry_at <= ? ORDER BY next_retry_at, id LIMIT ?"
)


@hh.job("SyncRetry", max_attempts=3)
def sync_retry(
    ctx: JobContext,
    max_retries: int = 5,
    retry_delay_minutes: list[int] | None = None,
    batch_size: int = 50,
) -> dict[str, int]:
    """Try the due failed items again (``retry_count < max_retries``, ``next_retry_at``
    passed), ``batch_size`` of them: delete those that go through; for the others count
    the retry and set the next one ``retry_delay_minutes`` on, or give up on them after
    ``max_retries`` and tell their user."""
    delays = retry_delay_minutes or list(DEFAULT_DELAYS)
    d = db()
    moment = now()
    items = d.query(DUE, (max_retries, iso(moment), batch_size))
    done, retried, given_up = 0, 0, 0
    for item in items:
        if ctx.cancelled:
            break
        try:
            process(item)
        except SyncFailed as exc:
            count = int(item["retry_count"]) + 1
            status = "permanently_failed" if count >= max_retries else "failed"
            at = now()
            with d.connect() as conn:
                conn.execute(
                    d.sql(
                        "UPDATE sync_queue SET retry_count = ?, last_error = ?,"
                        " next_retry_at = ?, status = ? WHERE id = ?"
                    ),
                    (count, str(exc), iso(next_retry(at, count, delays)), status, item["id"]),
                )
                if status == "permanently_failed":
                    payload = {
                        "syncId": str(item["id"]),
                        "entityType": item["entity_type"],
                        "entityId": str(item["entity_id"]),
                        "operation": item["operation"],
                        "error": str(exc),
                    }
                    notify(
                        conn, d, item["user_id"], "sync_failed", payload, at, f"sync:{item['id']}"
                    )
                    given_up += 1
                else:
                    retried += 1
        else:
            d.execute("DELETE FROM sync_queue WHERE id = ?", (item["id"],))
            done += 1
    return {"synced": done, "retried": retried, "permanently_failed": given_up}
