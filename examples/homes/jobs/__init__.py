"""The job catalogue of seed 004: each module registers its job types on ``hh``.

| module | job types |
| --- | --- |
| ``drafts`` | DraftCleanup, DraftReminder |
| ``invitations`` | InvitationExpiration |
| ``cleanup`` | ActivityCleanup, NotificationCleanup, RefreshTokenCleanup |
| ``summary`` | WeeklySummaryEmail |
| ``sync`` | SyncRetry |
| ``export`` | ExportDataJob |

SendEmailJob is a custom kind of ``hourhand.toml`` (see ``examples/homes/mail.py``).
"""

from examples.homes.jobs import cleanup, drafts, export, invitations, summary, sync

__all__ = ["cleanup", "drafts", "export", "invitations", "summary", "sync"]
