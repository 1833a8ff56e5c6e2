"""The registry of the dashboard's GET pages, which the tests crawl: the redirect to
sign-in without a session, the script-injection corpus, the screenshots.

``Page.path`` is relative to the dashboard and may hold ``{job_id}``, ``{schedule_id}`` and
``{alert_id}``, which tests fill from the data they seeded (``Page.fill``). ``role`` is the
least role that may open the page. Fragments (``/fragments/...``) and the sign-in page are
not listed: they are not pages of their own.

``NAV`` is the navigation bar of base.html: label, path, least role, and whether only users
outside any organisation see it (queues are the cluster's).
"""

from __future__ import annotations

from dataclasses import dataclass

from hourhand.ops.actor import Role


@dataclass(frozen=True)
class Page:
    name: str
    path: str  # relative to the dashboard; placeholders {job_id} {schedule_id} {alert_id}
    role: str = Role.VIEWER.value  # the least role that may open it
    cluster_only: bool = False  # for users outside any organisation (queues are shared)

    def fill(self, **ids: object) -> str:
        """The path with its placeholders filled: ``page.fill(job_id=12)``."""
        return self.path.format(**{k: str(v) for k, v in ids.items()})


PAGES: list[Page] = [
    Page("overview", "/"),
    Page("jobs", "/jobs"),
    Page("job", "/jobs/{job_id}"),
    Page("run", "/run", Role.OPERATOR.value),
    Page("search", "/search?q=report"),
    Page("queues", "/queues", cluster_only=True),
    Page("schedules", "/schedules"),
    Page("schedule-new", "/schedules/new", Role.OPERATOR.value),
    Page("schedule", "/schedules/{schedule_id}"),
    Page("schedule-edit", "/schedules/{schedule_id}/edit", Role.OPERATOR.value),
    Page("alerts", "/alerts"),
    Page("audit", "/audit", Role.ADMIN.value),
]


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    role: str = Role.VIEWER.value
    cluster_only: bool = False  # hidden from organisations' users


NAV: list[NavItem] = [
    NavItem("Overview", "/"),
    NavItem("Jobs", "/jobs"),
    NavItem("Run now", "/run", Role.OPERATOR.value),
    NavItem("Queues", "/queues", cluster_only=True),
    NavItem("Schedules", "/schedules"),
    NavItem("Alerts", "/alerts"),
    NavItem("Audit", "/audit", Role.ADMIN.value),
]


def page(name: str) -> Page:
    """The registered page of this name (KeyError if none)."""
    for found in PAGES:
        if found.name == name:
            return found
    raise KeyError(name)
