"""Who is looking at the dashboard: sign-in and sign-out, the session cookie, CSRF, the
sign-in rate limit, and the ``Viewer`` dependency.

For the modules of pages:

- ``viewer: Viewer`` in a route's parameters is the signed-in user's :class:`Actor`
  (``kind="user"``, its role and organisation, the client's address). Without a session
  the browser is sent (303) to ``{prefix}/login?next=<this page>``. Pass it to ``hh.ops``,
  which checks roles and organisation scope.
- POSTs need nothing more: ``guard`` (a dependency of the whole dashboard) refuses every
  POST without a session (303 to sign-in) or without the session's CSRF token in its
  ``csrf`` form field (a 403 page), before the route runs. Forms carry
  ``{{ csrf_field() }}``.

The session is a cookie ``hourhand_session``: base64(JSON ``{"uid", "exp", "csrf"}``), a
dot, and its HMAC-SHA256 under the dashboard's secret key (``hh.ops.users.secret_key()``),
HttpOnly, SameSite=Strict, Secure over https, Path the dashboard's prefix, for
``SESSION_HOURS``. Its user is looked up on every request, so a disabled user's session
stops at once. Signing out deletes the cookie (the cookie stays valid until it expires for
whoever copied it: sessions are not kept on the server).

Behind the host application's auth (``mount(..., auth=fn)``): ``fn(request)`` (a plain or
async function) returns the Actor or None, or raises Forbidden; hourhand's sign-in is not
used, None answers a 401 page, Forbidden a 403 page, and the CSRF token is an HMAC of the
actor under the secret key.

Sign-in rate limit: at most ``MAX_FAILURES`` failed sign-ins per (name, organisation,
address) and ``MAX_FAILURES_PER_ADDRESS`` per address within ``FAILURE_WINDOW`` seconds,
counted in this process's memory (each API replica counts its own); an attempt counts from
the moment it arrives, so attempts sent in parallel cannot outrun the limit, and at most
``PASSWORD_CHECKS`` passwords are checked at once.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hourhand.errors import NotAuthenticated
from hourhand.ops.actor import Actor
from hourhand.web.dashboard.app import (
    App,
    cookie_path,
    error_page,
    hourhand,
    prefix_of,
    redirect,
    render,
    sign,
    unsign,
    url,
)

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hourhand_session"
LOGIN_COOKIE = "hourhand_login"  # the sign-in form's CSRF token (before any session)
SESSION_HOURS = 12
MAX_FAILURES = 5  # failed sign-ins per (name, organisation, address) ...
FAILURE_WINDOW = 300.0  # ... within this many seconds
MAX_FAILURES_PER_ADDRESS = 30  # ... and per address, whatever the names
PASSWORD_CHECKS = 4  # password hashes checked at once (argon2id: 64 MiB each)
MAX_TRACKED = 10_000  # (name, organisation, address) keys the limiter remembers

AuthHook = Callable[[Request], "Actor | Awaitable[Actor | None] | None"]

router = APIRouter()


class LoginRequired(Exception):
    """No session: answered by a 303 to the sign-in page."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("sign in first")
        self.next_path = next_path


class CsrfRefused(Exception):
    """A POST without the right CSRF token: answered by a 403 page."""


@dataclass(frozen=True)
class Session:
    uid: int
    exp: int  # Unix seconds
    csrf: str


# -- sessions ----------------------------------------------------------------------------


def make_session(request: Request, uid: int) -> tuple[Session, str]:
    session = Session(
        uid=uid, exp=int(time.time()) + SESSION_HOURS * 3600, csrf=secrets.token_urlsafe(24)
    )
    payload = json.dumps({"uid": session.uid, "exp": session.exp, "csrf": session.csrf})
    return session, sign(request, "session", payload.encode())


def read_session(request: Request) -> Session | None:
    """The session of the request's cookie if it is ours and has not expired."""
    payload = unsign(request, "session", request.cookies.get(SESSION_COOKIE))
    if payload is None:
        return None
    try:
        found = json.loads(payload)
        session = Session(uid=int(found["uid"]), exp=int(found["exp"]), csrf=str(found["csrf"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.exp > time.time() else None


def address_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def _auth_hook(request: Request) -> AuthHook | None:
    hook: AuthHook | None = getattr(request.app.state, "dashboard_auth", None)
    return hook


def _hook_csrf(request: Request, actor: Actor) -> str:
    key = hourhand(request).ops.users.secret_key()
    who = f"csrf|{actor.kind}|{actor.name}|{actor.org_id or ''}|{actor.id or ''}"
    return hmac.new(key, who.encode(), "sha256").hexdigest()


def _from_cookie(request: Request) -> tuple[Actor, str] | None:
    session = read_session(request)
    if session is None:
        return None
    actor = hourhand(request).ops.users.session_actor(session.uid, address_of(request))
    return None if actor is None else (actor, session.csrf)


async def current(request: Request) -> Actor | None:
    """The signed-in actor (cached on the request), or None. Also sets
    ``request.state.csrf_token`` for the page's forms."""
    if hasattr(request.state, "viewer"):
        found: Actor | None = request.state.viewer
        return found
    hook = _auth_hook(request)
    actor: Actor | None
    csrf: str | None = None
    if hook is not None:
        result = hook(request)
        actor = await result if inspect.isawaitable(result) else result
        if actor is not None:
            csrf = await run_in_threadpool(_hook_csrf, request, actor)
    else:
        signed_in = await run_in_threadpool(_from_cookie, request)
        actor, csrf = signed_in if signed_in is not None else (None, None)
    request.state.viewer = actor
    request.state.csrf_token = csrf
    return actor


def _this_page(request: Request) -> str:
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")


async def viewer(request: Request) -> Actor:
    """The ``Viewer`` dependency: the signed-in actor, else a redirect to sign-in."""
    actor = await current(request)
    if actor is None:
        if _auth_hook(request) is not None:
            raise NotAuthenticated("sign in to the application first")
        raise LoginRequired(_this_page(request) if request.method == "GET" else None)
    return actor


Viewer = Annotated[Actor, Depends(viewer)]


async def guard(request: Request) -> None:
    """A dependency of every dashboard route: every POST (any method but GET and HEAD)
    needs a session and its CSRF token, except the sign-in form, which needs the token
    of its own cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    form = await request.form()
    given = form.get("csrf")
    if request.scope.get("endpoint") is sign_in:
        expected = request.cookies.get(LOGIN_COOKIE)
    else:
        if await current(request) is None:
            if _auth_hook(request) is not None:
                raise NotAuthenticated("sign in to the application first")
            raise LoginRequired(None)
        expected = request.state.csrf_token
    if not isinstance(given, str) or not expected or not hmac.compare_digest(given, expected):
        raise CsrfRefused()


def safe_next(request: Request, value: str | None) -> str:
    """Where to go after signing in: a path inside the dashboard, else its overview."""
    prefix = prefix_of(request)
    home = prefix + "/"
    if not value or len(value) > 2000 or any(c in value for c in "\\\r\n\t"):
        return home
    if value.startswith("//") or not value.startswith(prefix + "/"):
        return home
    return value


# -- the sign-in rate limit --------------------------------------------------------------


class LoginLimiter:
    """Sign-in attempts per key within the window, in memory (by the wall clock: a clock
    step only shortens or lengthens one window).

    An attempt is counted *before* its password is checked (:meth:`begin`) and forgotten
    only when it succeeds (:meth:`succeeded`), so attempts sent in parallel count as they
    arrive, not as they finish. Two keys are counted: (name, organisation, address), up to
    ``max_failures``, and the address alone, up to ``max_per_address`` (failures spread over
    many names from one address cannot push a name's count out of memory)."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        max_per_address: int = MAX_FAILURES_PER_ADDRESS,
    ) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window = window
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.get(key) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _limits(self, key: tuple[str, ...]) -> list[tuple[tuple[str, ...], int]]:
        return [(key, self.max_failures), (("address", key[-1]), self.max_per_address)]

    def begin(self, key: tuple[str, ...]) -> tuple[float, float]:
        """Count an attempt of ``key`` (name, organisation, address): ``(0, stamp)`` if it may
        go ahead (pass ``stamp`` to :meth:`succeeded`), else ``(seconds to wait, 0)`` and
        nothing counted."""
        now = time.time()
        with self._lock:
            waits = [
                max(1.0, times[0] + self.window - now)
                for limited, limit in self._limits(key)
                if len(times := self._recent(limited, now)) >= limit
            ]
            if waits:
                return max(waits), 0.0
            for limited, _ in self._limits(key):
                times = self._recent(limited, now)
                times.append(now)
                self._failures[limited] = times
                self._failures.move_to_end(limited)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)
            return 0.0, now

    def succeeded(self, key: tuple[str, ...], stamp: float) -> None:
        """The attempt counted at ``stamp`` signed in: the name's failures are forgotten, and
        the address keeps only its other attempts."""
        with self._lock:
            self._failures.pop(key, None)
            times = self._failures.get(("address", key[-1]))
            if times is not None and stamp in times:
                times.remove(stamp)


def limiter(request: Request) -> LoginLimiter:
    found: LoginLimiter = request.app.state.login_limiter
    return found


# -- routes ------------------------------------------------------------------------------


def _login_form(
    request: Request,
    *,
    next_path: str,
    name: str = "",
    org: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    request.state.csrf_token = token
    response = render(
        request,
        "login.html",
        {"next": next_path, "name": name, "org": org, "error": error},
        status=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form (a signed-in user goes on to ``next``)."""
    if _auth_hook(request) is not None:
        return error_page(request, 404, "Sign-in is handled by the application.")
    if await current(request) is not None:
        return RedirectResponse(safe_next(request, next), status_code=303)
    return _login_form(request, next_path=safe_next(request, next))


@router.post("/login", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    app: App,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    org: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if _auth_hook(request) is not None:
        return error_page(request, 404, "Sign-in is handled by the application.")
    target = safe_next(request, next)
    org_id = org.strip() or None
    key = (name.strip().casefold(), org_id or "", address_of(request) or "")
    limits = limiter(request)
    wait, stamp = limits.begin(key)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        logger.warning("dashboard: sign-in of %r refused: too many failures", name[:50])
        message = f"Too many failed sign-ins; try again in about {minutes} min."
        return _login_form(request, next_path=target, name=name, org=org, error=message, status=429)
    try:
        async with request.app.state.password_checks:  # argon2 takes 64 MiB a check
            actor = await run_in_threadpool(
                app.ops.users.authenticate, name.strip(), org_id, password, address_of(request)
            )
    except NotAuthenticated as exc:  # the attempt stays counted
        return _login_form(
            request, next_path=target, name=name, org=org, error=str(exc), status=401
        )
    limits.succeeded(key, stamp)
    assert actor.id is not None
    _, cookie = await run_in_threadpool(make_session, request, int(actor.id))
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.delete_cookie(LOGIN_COOKIE, path=cookie_path(request))
    return response


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    """Sign out: the session cookie is deleted."""
    if _auth_hook(request) is not None:
        return redirect(request, "/")
    response = RedirectResponse(url(request, "/login"), status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = url(request, "/login")
    if exc.next_path:
        target += "?next=" + quote(exc.next_path, safe="/")
    return RedirectResponse(target, status_code=303)


def csrf_refused(request: Request) -> Response:
    return error_page(
        request,
        403,
        "This form has expired or did not come from the dashboard. Reload the page and try again.",
    )


def install(app: Any) -> None:
    """Register the sign-in's exception handlers and rate limiter on the dashboard app."""
    app.state.login_limiter = LoginLimiter()
    app.state.password_checks = anyio.Semaphore(PASSWORD_CHECKS)  # of no one event loop

    async def on_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return login_redirect(request, exc)

    async def on_csrf(request: Request, exc: Exception) -> Response:
        return csrf_refused(request)

    app.add_exception_handler(LoginRequired, on_login)
    app.add_exception_handler(CsrfRefused, on_csrf)
