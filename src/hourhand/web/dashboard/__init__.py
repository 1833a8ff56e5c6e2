"""The dashboard: server-rendered pages over ``hh.ops``, served at ``/dashboard`` by
``create_app`` (``hourhand web``, ``hourhand serve``, ``hh.asgi_app()``), or mounted by
``mount(app, hh, prefix=..., auth=...)`` in any FastAPI app. See docs/dashboard.md.

Layout (one module per area, templates named after their module):

- ``app.py``: the Jinja2 environment (autoescape always), ``render``, ``redirect`` with a
  flash message, ``App`` (the Hourhand dependency), the security headers, the error pages;
- ``session.py``: sign-in and sign-out, the session cookie, CSRF (``guard``), the sign-in
  rate limit, ``Viewer`` (the signed-in Actor dependency);
- ``pages.py``: ``PAGES`` (every GET page, for the tests) and ``NAV`` (the navigation);
- ``overview.py``, ``jobs.py``, ``schedules.py``, ``queues.py``, ``alerts.py``,
  ``audit.py``: the pages of each area, each module a ``router`` (an APIRouter) with paths
  relative to the dashboard; ``charts.py``: server-rendered SVG;
- ``templates/base.html`` (the layout: blocks ``title``, ``content``, ``actions``;
  navigation; the flash area), ``static/hourhand.css``, ``static/hourhand.js``.

An area's module is mounted when it exists (``AREAS`` below), so areas can be built apart.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from fastapi import APIRouter, Depends, FastAPI
from starlette.staticfiles import StaticFiles

from hourhand.app import Hourhand
from hourhand.web.dashboard import session
from hourhand.web.dashboard.app import STATIC, CatchAll, SecurityHeaders, install_errors
from hourhand.web.dashboard.session import AuthHook

PREFIX = "/dashboard"
# the modules of pages, in the order their routes are matched
AREAS = ("session", "overview", "jobs", "schedules", "queues", "alerts", "audit")


def routers() -> Iterator[APIRouter]:
    """The router of each area that exists."""
    for name in AREAS:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # an area not built (yet)
        router: APIRouter = module.router
        yield router


def create_dashboard(hh: Hourhand, *, auth: AuthHook | None = None) -> FastAPI:
    """The dashboard as an app of its own (``mount`` mounts it at a prefix)."""
    dashboard = FastAPI(
        title="hourhand dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(session.guard)],
    )
    dashboard.state.hourhand = hh
    dashboard.state.dashboard_auth = auth
    install_errors(dashboard)
    session.install(dashboard)
    dashboard.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        dashboard.include_router(router)
    dashboard.add_middleware(CatchAll)
    dashboard.add_middleware(SecurityHeaders)  # outermost: error pages get the headers too
    return dashboard


def mount(
    app: FastAPI, hh: Hourhand, *, prefix: str = PREFIX, auth: AuthHook | None = None
) -> FastAPI:
    """Serve the dashboard of ``hh`` at ``prefix`` in ``app``. ``auth``: a function of the
    request returning the :class:`~hourhand.ops.Actor` your own auth signed in (or None),
    plain or async; with it hourhand's sign-in is not used (docs/dashboard.md)."""
    dashboard = create_dashboard(hh, auth=auth)
    app.mount(prefix.rstrip("/") or PREFIX, dashboard, name="dashboard")
    return dashboard


__all__ = ["AREAS", "PREFIX", "AuthHook", "create_dashboard", "mount", "routers"]
