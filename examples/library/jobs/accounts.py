"""Members' accounts: expire_sessions (every 15 minutes) and refresh_tokens (every six
hours).

refresh_tokens renews the linked reading accounts' OAuth tokens that expire within
``within_hours`` (longer than the six hours between runs, so none lapses between two):
a ``refresh_token`` grant to the provider's token endpoint (settings.py). A token the
provider refuses (``invalid_grant``) is marked revoked and its member asked to link the
account again; a provider that does not answer fails the run, which is retried, and the
tokens renewed before it are not asked for again. Tokens are never logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2

from examples.common.domain import Domain, iso, now
from examples.library import settings
from examples.library.jobs.notifications import queue_notification, wake_sender
from hourhand import DoNotRetry, Hourhand, JobContext, Retry

ACCOUNTS_QUEUE = "accounts"
PROVIDER_NAMES = {"bookshelf": "Bookshelf"}


def _refused(answer: httpx2.Response) -> bool:
    """The provider says the refresh token is no good (RFC 6749 5.2: invalid_grant)."""
    if answer.status_code != 400:
        return False
    try:
        body: Any = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_grant"


def register(hh: Hourhand) -> None:
    @hh.job("expire_sessions", queue=ACCOUNTS_QUEUE, retry=Retry.none(), timeout=300)
    def expire_sessions(ctx: JobContext, idle_days: int = 30) -> dict[str, int]:
        """Delete sign-in sessions that expired, or that nobody used for ``idle_days``.
        No retries: the next run, a quarter of an hour later, does the same."""
        at = now()
        deleted = Domain(hh.database_url).execute(
            "DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?",
            (iso(at), iso(at - timedelta(days=idle_days))),
        )
        return {"deleted": deleted}

    @hh.job(
        "refresh_tokens",
        queue=ACCOUNTS_QUEUE,
        max_attempts=4,
        retry=Retry.exponential(base=120, cap=1800),
        timeout=900,
        concurrency=1,
    )
    def refresh_tokens(ctx: JobContext, within_hours: int = 7) -> dict[str, int]:
        """Renew the OAuth tokens that expire within ``within_hours``."""
        domain = Domain(hh.database_url)
        tokens = domain.query(
            "SELECT id, member_id, provider, refresh_token FROM oauth_tokens "
            "WHERE status = 'active' AND expires_at < ? ORDER BY expires_at LIMIT 1000",
            (iso(now() + timedelta(hours=within_hours)),),
        )
        counts = {"due": len(tokens), "refreshed": 0, "revoked": 0, "failed": 0}
        if not tokens:
            return counts
        url = settings.oauth_token_url()
        if url is None:
            raise DoNotRetry(
                f"{settings.OAUTH_TOKEN_URL} is not set: {len(tokens)} tokens expire within "
                f"{within_hours} hours"
            )
        client_id, client_secret = settings.oauth_client()
        problem = ""
        with httpx2.Client(timeout=settings.HTTP_TIMEOUT) as client:
            for token in tokens:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": token["refresh_token"],
                    "client_id": client_id,
                    "client_secret": client_secret,
                }
                try:
                    answer = client.post(url, data=form)
                except httpx2.HTTPError as exc:
                    counts["failed"] += 1
                    problem = problem or type(exc).__name__
                    continue
                if _refused(answer):
                    with domain.connect() as conn:
                        conn.execute(
                            domain.sql("UPDATE oauth_tokens SET status = 'revoked' WHERE id = ?"),
                            (token["id"],),
                        )
                        provider = PROVIDER_NAMES.get(token["provider"], token["provider"])
                        queue_notification(
                            conn, domain, token["member_id"], "relink", {"provider": provider}
                        )
                    counts["revoked"] += 1
                    continue
                if answer.status_code != 200:
                    counts["failed"] += 1
                    problem = problem or f"HTTP {answer.status_code}"
                    continue
                grant = answer.json()
                expires = now() + timedelta(seconds=int(grant.get("expires_in", 3600)))
                domain.execute(
                    "UPDATE oauth_tokens SET access_token = ?, "
                    "refresh_token = COALESCE(?, refresh_token), expires_at = ?, "
                    "refreshed_at = ? WHERE id = ?",
                    (
                        grant["access_token"],
                        grant.get("refresh_token"),  # providers that rotate them send one
                        iso(expires),
                        iso(now()),
                        token["id"],
                    ),
                )
                counts["refreshed"] += 1
        if counts["revoked"]:
            wake_sender(hh)
        if counts["failed"]:  # retried: the renewed ones are no longer due
            raise RuntimeError(
                f"{counts['failed']} of {len(tokens)} tokens not refreshed ({problem}); "
                f"{counts['refreshed']} refreshed, {counts['revoked']} revoked"
            )
        return counts
