"""InvitationExpiration: pending invitations past their expiry are marked expired, and
whoever sent each is told."""

from __future__ import annotations

from examples.common.domain import iso, now
from examples.homes.app import db, hh
from examples.homes.jobs.common import notify
from hourhand import JobContext

EXPIRED = """
SELECT i.id, i.created_by, i.email, i.target_type,
       COALESCE(pr.name, pp.name) AS target_name
FROM invitations i
LEFT JOIN projects pr ON i.target_type = 'project' AND pr.id = i.target_id
LEFT JOIN properties pp ON i.target_type = 'property' AND pp.id = i.target_id
WHERE i.status = 'pending' AND i.expires_at < ?
ORDER BY i.expires_at, i.id
LIMIT ?
"""


@hh.job("InvitationExpiration", max_attempts=3)
def invitation_expiration(ctx: JobContext, batch_size: int = 200) -> dict[str, int]:
    """Up to ``batch_size`` pending invitations whose ``expires_at`` passed: status
    ``expired``, and an ``invitation_expired`` notification to the one who sent it."""
    d = db()
    moment = now()
    with d.connect() as conn:
        invitations = conn.execute(d.sql(EXPIRED), (iso(moment), batch_size)).fetchall()
        for invitation in invitations:
            conn.execute(
                d.sql(
                    "UPDATE invitations SET status = 'expired' WHERE id = ? AND status = 'pending'"
                ),
                (invitation["id"],),
            )
            payload = {
                "invitationId": str(invitation["id"]),
                "email": invitation["email"],
                "targetType": invitation["target_type"],
                "targetName": invitation["target_name"],
            }
            key = f"invitation:{invitation['id']}"
            notify(conn, d, invitation["created_by"], "invitation_expired", payload, moment, key)
    ctx.logger.info("InvitationExpiration: Expired %d invitations", len(invitations))
    return {"expired": len(invitations)}
