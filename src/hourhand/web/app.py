"""``create_app(hh)``: the REST API as a FastAPI app, to run with ``hourhand web`` /
``hourhand serve`` or to mount in your own app::

    from fastapi import FastAPI
    from myapp.jobs import hh

    app = FastAPI()
    app.mount("/hourhand", hh.asgi_app())   # /hourhand/v1/jobs, /hourhand/dashboard, ...

The dashboard is served at ``/dashboard`` (``dashboard=False``: not at all;
``dashboard_auth``: your own auth signs people in, see docs/dashboard.md).
"""

from __future__ import annotations

from fastapi import FastAPI

from hourhand.app import Hourhand
from hourhand.web import admin, alerts, errors, health, jobs, queues, schedules
from hourhand.web.dashboard import AuthHook, mount
from hourhand.web.errors import ERROR_RESPONSES

DESCRIPTION = """\
The REST API of hourhand: jobs, schedules, queues, alerts, workers, statistics, keys and
the audit log. Every `/v1` route needs an API key as `Authorization: Bearer <key>`
(`hourhand keys create`). Errors are `{"error": {"code": ..., "message": ...}}`.
"""


def create_app(
    hh: Hourhand,
    *,
    metrics_public: bool = False,
    dashboard: bool = True,
    dashboard_auth: AuthHook | None = None,
) -> FastAPI:
    """The API over ``hh.ops``. ``metrics_public``: /metrics answers without a key (for a
    Prometheus that scrapes over a private network). ``dashboard``: serve the dashboard
    at /dashboard; ``dashboard_auth``: a function of the request returning the signed-in
    :class:`~hourhand.ops.Actor` (or None) when your app's auth signs people in."""
    from hourhand import __version__

    app = FastAPI(title="hourhand", version=__version__, description=DESCRIPTION)
    app.state.hourhand = hh
    app.state.metrics_public = metrics_public
    errors.install(app)
    for module in (jobs, schedules, queues, alerts, admin):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(health.router)
    if dashboard:
        mount(app, hh, auth=dashboard_auth)
    return app
