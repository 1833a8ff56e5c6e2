"""What every dashboard page shares: the Jinja2 environment, ``render`` and ``redirect``,
flash messages, the security headers, and the error pages.

For the modules of pages (overview.py, jobs.py, ...)::

    from hourhand.web.dashboard.app import App, redirect, render
    from hourhand.web.dashboard.session import Viewer

    router = APIRouter()

    @router.get("/queues")
    def queues(request: Request, app: App, viewer: Viewer) -> HTMLResponse:
        return render(request, "queues.html", {"queues": app.ops.queues.list(viewer)})

    @router.post("/queues/{name}/pause")
    def pause(request: Request, app: App, viewer: Viewer, name: str) -> Response:
        app.ops.queues.pause(viewer, name)          # roles are checked in ops
        return redirect(request, "/queues", f"queue {name} paused")

- Routes are written relative to the dashboard (``/queues``); ``url(path)`` in templates
  and ``redirect(request, path)`` add the prefix it is mounted at (``/dashboard``, or
  ``/hourhand/dashboard`` when the API itself is mounted under ``/hourhand``).
- Every POST is checked before its route runs (session.py's ``guard``, a dependency of
  the whole dashboard): no session → 303 to the sign-in page, no or a wrong ``csrf`` form
  field → a 403 page. Every form that POSTs carries ``{{ csrf_field() }}``.
- Errors an operation raises become pages: NotFound 404, Forbidden 403, InvalidInput 400,
  Conflict/JobStateError 409, NotAuthenticated 401, the database unavailable 503,
  anything else 500 (logged, never the request's body). A route that wants the error as a
  flash instead catches it and calls ``redirect(request, path, str(exc), "error")``.
- Templates: autoescape is always on; never ``|safe`` on data. Globals: ``url(path)``,
  ``csrf_field()``, ``can(role)`` (the viewer's role is at least ``role``: show action
  buttons only then), ``viewer`` (the signed-in Actor or None), ``prefix``, ``nav``.
  Filters: ``when`` (a UTC time, ``2024-05-01 12:00:03 UTC``), ``ago`` (``5 min ago``,
  ``in 3 s``; needs ``now`` in the context or uses the local clock), ``duration``
  (seconds in words), ``number`` (thousands separated), ``json`` (pretty JSON text,
  escaped by autoescape as any text), ``pathpart`` (a value as one URL path segment,
  ``/`` encoded too: ``url('/queues/' ~ (name|pathpart) ~ '/pause')``; routes take such a
  value as ``{name:path}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hourhand import humanize
from hourhand.app import Hourhand
from hourhand.errors import DatabaseNotFound, DatabaseUnavailable, HourhandError
from hourhand.ops.actor import Role
from hourhand.web.dashboard.pages import NAV
from hourhand.web.errors import ERRORS

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
FLASH_COOKIE = "hourhand_flash"
FLASH_MAX = 500  # characters of a flash message
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
STATUS_TITLES = {
    400: "Not valid",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible now",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Database unavailable",
}


def hourhand(request: Request) -> Hourhand:
    """The app the dashboard shows (``App`` in a route's parameters)."""
    found: Hourhand = request.app.state.hourhand
    return found


App = Annotated[Hourhand, Depends(hourhand)]


# -- templates ---------------------------------------------------------------------------


def prefix_of(request: Request) -> str:
    """Where the dashboard is mounted, e.g. ``/dashboard`` (no trailing slash)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def url(request: Request, path: str) -> str:
    """The URL path of a dashboard page: ``url(request, "/jobs")`` → ``/dashboard/jobs``."""
    return prefix_of(request) + (path if path.startswith("/") else "/" + path)


@pass_context
def _url(ctx: Mapping[str, Any], path: str) -> str:
    return str(ctx["prefix"]) + (path if path.startswith("/") else "/" + path)


@pass_context
def _csrf_field(ctx: Mapping[str, Any]) -> Markup:
    token = ctx.get("csrf_token") or ""
    return Markup('<input type="hidden" name="csrf" value="%s">') % escape(token)


@pass_context
def _can(ctx: Mapping[str, Any], role: str) -> bool:
    viewer = ctx.get("viewer")
    return viewer is not None and bool(viewer.can(Role(role)))


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pass_context
def _ago(ctx: Mapping[str, Any], value: datetime | None) -> str:
    if value is None:
        return "-"
    now = ctx.get("now") or datetime.now(UTC)
    seconds = (now - value).total_seconds()
    if abs(seconds) < 1:
        return "now"
    words = _coarse(abs(seconds))
    return f"{words} ago" if seconds > 0 else f"in {words}"


def _coarse(seconds: float) -> str:
    """A span in words, to a whole unit or two: ``46 s``, ``5 min``, ``2 h 5 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        hours, rest = divmod(whole, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    days, rest = divmod(whole, 86400)
    return f"{days} d {rest // 3600} h" if rest >= 3600 else f"{days} d"


def _number(value: int | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _pathpart(value: object) -> str:
    return quote(str(value), safe="")


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hourhand.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(url=_url, csrf_field=_csrf_field, can=_can, nav=NAV)
    env.filters.update(
        when=_when,
        ago=_ago,
        duration=humanize.duration,
        number=_number,
        json=_json,
        pathpart=_pathpart,
    )
    return env


templates = make_environment()


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or a fragment: a template that does not extend base.html)."""
    state = request.state
    flash = read_flash(request)
    values: dict[str, Any] = {
        "request": request,
        "prefix": prefix_of(request),
        "viewer": getattr(state, "viewer", None),
        "csrf_token": getattr(state, "csrf_token", None),
        "flash": flash,
        **(context or {}),
    }
    body = templates.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status, headers=dict(headers or {}))
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=cookie_path(request))
    return response


# -- redirects and flash messages --------------------------------------------------------


def cookie_path(request: Request) -> str:
    return prefix_of(request) or "/"


def sign(request: Request, purpose: str, payload: bytes) -> str:
    """``payload`` (base64) and its HMAC-SHA256 under the session key, for ``purpose``."""
    key = hourhand(request).ops.users.secret_key()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    mac = hmac.new(key, f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsign(request: Request, purpose: str, value: str | None) -> bytes | None:
    """The payload of a value ``sign`` made for ``purpose``, or None if it is not one."""
    if not value or "." not in value or len(value) > 4096:
        return None
    body, _, mac = value.partition(".")
    key = hourhand(request).ops.users.secret_key()
    expected = hmac.new(key, f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(given, expected):
            return None
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None


def redirect(
    request: Request, path: str, flash: str | None = None, kind: str = "ok"
) -> RedirectResponse:
    """303 to a dashboard page (``path`` relative to the dashboard, query allowed), with
    a message shown once at the top of that page. ``kind``: ok | error."""
    response = RedirectResponse(url(request, path), status_code=303)
    if flash:
        payload = json.dumps({"m": flash[:FLASH_MAX], "k": kind}).encode()
        response.set_cookie(
            FLASH_COOKIE,
            sign(request, "flash", payload),
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    """The flash message a redirect left (``{"message", "kind"}``), or None."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        payload = unsign(request, "flash", raw)
    except HourhandError:  # the key could not be read: no flash then
        return None
    if payload is None:
        return {"message": "", "kind": "ok"}  # a stale cookie: cleared, nothing shown
    try:
        found = json.loads(payload)
        return {"message": str(found["m"]), "kind": "error" if found["k"] == "error" else "ok"}
    except (ValueError, KeyError, TypeError):
        return {"message": "", "kind": "ok"}


# -- security headers and errors ---------------------------------------------------------


class SecurityHeaders:
    """The CSP and the other security headers on every dashboard response; pages (not
    static files) are not cached, since they show data and carry CSRF tokens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in str(scope.get("path", ""))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                if not static and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, sending)


class CatchAll:
    """Anything a page raises that is not handled: logged once, a 500 page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            logger.error("dashboard: internal error: %s", type(exc).__name__, exc_info=exc)
            if started:
                raise
            await _plain_error(500)(scope, receive, send)


def _plain_error(status: int) -> HTMLResponse:
    """An error page that needs nothing: no template state, no database."""
    title = STATUS_TITLES.get(status, "Error")
    body = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}"
        f"</title></head><body><h1>{title}</h1><p>The error is logged on the server.</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    """The page for an error: its title, the message (escaped), a way back."""
    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": STATUS_TITLES.get(status, "Error"), "message": message},
            status=status,
        )
    except Exception as exc:  # the page itself failed (the database, say): a plain one
        logger.warning("dashboard: could not render an error page: %s", type(exc).__name__)
        return _plain_error(status)


def for_error(request: Request, exc: HourhandError) -> Response:
    for cls, status, _code in ERRORS:
        if isinstance(exc, cls):
            if isinstance(exc, DatabaseUnavailable | DatabaseNotFound):
                logger.warning("dashboard: answering 503: %s", exc)
                return error_page(request, 503, "The database is unavailable; try again.")
            return error_page(request, status, str(exc) or STATUS_TITLES.get(status, "Error"))
    logger.error("dashboard: internal error: %s", type(exc).__name__, exc_info=exc)
    return error_page(request, 500, "Internal error (logged on the server).")


def install_errors(app: FastAPI) -> None:
    """HTML error pages for the dashboard's sub-app."""

    async def on_hourhand(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HourhandError)
        return for_error(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where or 'input'}: {err.get('msg', 'invalid')}")
        return error_page(request, 400, "; ".join(parts) or "invalid request")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 404:
            message = "There is no such page."
        elif status == 405:
            message = f"{request.method} is not allowed here."
        else:
            message = exc.detail if isinstance(exc.detail, str) else STATUS_TITLES.get(status, "")
        return error_page(request, status, message)

    app.add_exception_handler(HourhandError, on_hourhand)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
