"""MujDomecek's web app, as far as its background jobs go (the seed's "Monitoring" and
"Trigger" sections):

- ``/hangfire``: hourhand's dashboard, for the app's admins only (the seed's
  ``MapHangfireDashboard("/hangfire", ... AdminAuthorizationFilter)``): mounted with
  ``hourhand.web.dashboard.mount`` behind this app's own sign-in; anyone else gets a 401;
- ``/health/jobs``: the jobs' health checks (``MapHealthChecks("/health/jobs")``), from
  ``hh.ops.health``: 200 when Healthy or Degraded, 503 when Unhealthy;
- ``POST /api/users/me/export``: enqueues ExportDataJob; ``GET /api/exports/{id}``: the
  archive, through the link the e-mail carries (signed, valid 24 hours);
- ``/login``, ``/logout``: the app's sign-in (a refresh token in a cookie);
- ``/hourhand/...``: hourhand's REST API (API keys), with ``/hourhand/metrics``: the
  seed's four metrics as ``hourhand_job_execution_duration_seconds``,
  ``hourhand_job_execution_total``, ``hourhand_job_failures_total`` and
  ``hourhand_job_queue_length``.

``hourhand --app examples.homes.app:hh serve`` serves it with the worker and the scheduler
(``app.py`` registers it with ``hh.web_app``); ``app`` below is the same for an ASGI server
of your own (``uvicorn examples.homes.web:app``).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from examples.common.domain import now
from examples.homes import auth, storage
from examples.homes.app import configured, db
from examples.homes.jobs.export import export_data
from hourhand import Hourhand
from hourhand.errors import Forbidden
from hourhand.ops import Actor, Role
from hourhand.ops.health import Status
from hourhand.web.dashboard import mount

DASHBOARD = "/hangfire"
LOGIN_PAGE = """<!doctype html><html lang="cs"><head><meta charset="utf-8">
<title>MujDomecek: přihlášení</title></head><body><h1>MujDomecek</h1>{error}
<form method="post" action="/login"><label>Email <input name="email" type="email"></label>
<label>Heslo <input name="password" type="password"></label>
<button>Přihlásit</button></form></body></html>"""


class ExportRequest(BaseModel):
    format: Literal["json", "csv"] = "json"


def _user(request: Request) -> dict[str, Any] | None:
    token = auth.token_of(
        request.headers.get("authorization"), request.cookies.get(auth.SESSION_COOKIE)
    )
    return auth.user_of(db(), token)


async def dashboard_user(request: Request) -> Actor | None:
    """The seed's AdminAuthorizationFilter: the signed-in user if an admin; None (401) for
    nobody signed in, Forbidden (403) for a user who is not an admin."""
    user = await run_in_threadpool(_user, request)
    if user is None:
        return None
    if not user["is_admin"]:
        raise Forbidden("the jobs dashboard is for administrators")
    return Actor(
        kind="user",
        name=user["email"],
        role=Role.ADMIN,
        id=str(user["id"]),
        address=request.client.host if request.client else None,
    )


def health_jobs(hh: Hourhand, detailed: bool) -> tuple[dict[str, Any], int]:
    """The body and status of ``/health/jobs``: ASP.NET's health report in JSON (status;
    each check's status, and for admins its description and numbers)."""
    report = hh.ops.health.check()
    checks: dict[str, Any] = {}
    for name, check in report.checks.items():
        entry: dict[str, Any] = {"status": str(check.status), "tags": ["jobs"]}
        if detailed:
            entry.update(description=check.description, data=check.data)
        checks[name] = entry
    code = 503 if report.status == Status.UNHEALTHY else 200
    return {"status": str(report.status), "checks": checks}, code


def create_web(hh: Hourhand, api: FastAPI | None = None) -> FastAPI:
    """The web app. ``api``: hourhand's API as ``hourhand serve`` made it (its options are
    kept); it is mounted under ``/hourhand`` without hourhand's own dashboard, which has
    its own sign-in: the dashboard is ``/hangfire``, behind this app's."""
    public = bool(api is not None and api.state.metrics_public)
    app = FastAPI(title="MujDomecek jobs")

    @app.get("/health/jobs")
    async def health(request: Request) -> JSONResponse:
        user = await run_in_threadpool(_user, request)
        detailed = user is not None and bool(user["is_admin"])
        body, code = await run_in_threadpool(health_jobs, hh, detailed)
        return JSONResponse(body, status_code=code)

    @app.get("/login", response_class=HTMLResponse)
    def login_page() -> str:
        return LOGIN_PAGE.format(error="")

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        email = form.get("email", [""])[0][:320]
        password = form.get("password", [""])[0][:1024]
        token = await run_in_threadpool(auth.sign_in, db(), email, password)
        if token is None:
            error = f"<p>{escape('Neznámý email nebo špatné heslo.')}</p>"
            return HTMLResponse(LOGIN_PAGE.format(error=error), status_code=401)
        answer = RedirectResponse(DASHBOARD + "/", status_code=303)
        answer.set_cookie(
            auth.SESSION_COOKIE,
            token,
            max_age=auth.TOKEN_DAYS * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return answer

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        token = request.cookies.get(auth.SESSION_COOKIE)
        if token:
            await run_in_threadpool(auth.revoke, db(), token)
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(auth.SESSION_COOKIE)
        return answer

    @app.post("/api/users/me/export", status_code=202)
    async def request_export(
        body: ExportRequest, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """The seed's trigger: ``_backgroundJobs.Enqueue<ExportDataJob>(userId, format)``.
        API clients only (a Bearer token, not the cookie: no cross-site requests)."""
        user = await run_in_threadpool(auth.user_of, db(), auth.token_of(authorization, None))
        if user is None:
            raise HTTPException(401, "sign in first")
        job = export_data.configure(unique_key=f"export:{user['id']}")
        job_id = await run_in_threadpool(job.enqueue, user_id=int(user["id"]), format=body.format)
        return {"jobId": int(job_id)}

    @app.get("/api/exports/{export_id}")
    def download(export_id: int, expires: int, signature: str) -> FileResponse:
        d = db()
        if not storage.link_valid(d, export_id, expires, signature, now()):
            raise HTTPException(403, "the link is not valid or has expired")
        row = d.one("SELECT storage_key FROM exports WHERE id = ?", (export_id,))
        if row is None or not storage.exists(row["storage_key"]):
            raise HTTPException(404, "no such export")
        name = f"mujdomecek-export-{export_id}.zip"
        return FileResponse(storage.path_of(row["storage_key"]), filename=name)

    mount(app, hh, prefix=DASHBOARD, auth=dashboard_user)
    app.mount("/hourhand", hh.asgi_app(dashboard=False, metrics_public=public))
    return app


app = create_web(configured())
