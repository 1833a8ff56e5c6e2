"""SendEmailJob: the seed's fire-and-forget e-mail job, as hourhand's ``hourhand.email``.

``SendEmailJob`` is a custom kind of ``hourhand.toml`` (``[kinds.SendEmailJob]``): a preset
of the built-in ``hourhand.email`` whose parameters are the recipient, the template (one of
the seed's seven, files of ``emails/``), the subject and the template's variables; with the
seed's ``Email`` settings: ``RetryCount`` 3 (so four attempts) ``RetryDelaySeconds`` 30. The
templates are rendered by hourhand with Jinja2 in its sandbox; the SMTP server is ``[smtp]``
(``HOURHAND_SMTP_*``).
"""

from __future__ import annotations

from typing import Any

from hourhand import Hourhand

SEND_EMAIL = "SendEmailJob"

# The seed's "Typy emailů" and their subjects ("Předmět").
SUBJECTS = {
    "registration_confirmation": "Potvrďte svůj email v MujDomecek",
    "password_reset": "Obnovení hesla do MujDomecek",
    "invitation": "Pozvánka ke sdílení v MujDomecek",
    "invitation_accepted": "Vaše pozvánka byla přijata",
    "weekly_summary": "Váš týdenní souhrn z MujDomecek",
    "export_ready": "Váš export dat z MujDomecek je připraven",
    "draft_expiring": "Váš rozpracovaný záznam bude smazán",
}


def send_email(hh: Hourhand, template: str, to: str, variables: dict[str, Any]) -> int:
    """Enqueue one e-mail (the seed's ``_backgroundJobs.Enqueue<SendEmailJob>``); its id."""
    if template not in SUBJECTS:
        raise ValueError(f"unknown e-mail template {template!r}")
    args = {"to": to, "template": template, "subject": SUBJECTS[template], "variables": variables}
    return int(hh.enqueue(SEND_EMAIL, args))
