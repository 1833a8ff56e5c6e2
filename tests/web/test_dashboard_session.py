"""The dashboard's sign-in, sessions, CSRF and security headers, on both stores."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import timedelta

import httpx2
import pytest
import time_machine
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from hourhand import Hourhand
from hourhand.errors import Forbidden
from hourhand.ops import Actor, Role
from hourhand.web.dashboard import mount
from hourhand.web.dashboard.pages import PAGES
from hourhand.web.dashboard.session import (
    MAX_FAILURES,
    MAX_FAILURES_PER_ADDRESS,
    SESSION_COOKIE,
    LoginLimiter,
)
from tests.web.dash import PASSWORD, PREFIX, Dash, csrf

JOB_ID = 1
SCHEDULE_ID = 1
ALERT_ID = 1


def test_sign_in_then_out(dash: Dash) -> None:
    client = dash.anonymous()
    dash.user("operator")
    form = client.get(f"{PREFIX}/login")
    assert form.status_code == 200 and 'name="password"' in form.text
    done = dash.sign_in(client, "operator")
    assert done.status_code == 303 and done.headers["location"] == f"{PREFIX}/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "SameSite=strict", f"Path={PREFIX}", "Max-Age=43200"):
        assert flag.lower() in cookie.lower(), cookie
    page = client.get(f"{PREFIX}/")
    assert page.status_code == 200 and "operator" in page.text
    user = dash.hh.ops.users.list(Actor.app("tests"))
    assert next(u for u in user if u.name == "operator").last_login_at is not None

    out = client.post(f"{PREFIX}/logout", data={"csrf": csrf(page)})
    assert out.status_code == 303 and out.headers["location"] == f"{PREFIX}/login"
    assert client.get(f"{PREFIX}/").status_code == 303


def test_a_wrong_password_or_an_unknown_user_get_one_answer(dash: Dash) -> None:
    client = dash.anonymous()
    wrong = dash.sign_in(client, "operator", "not the password")
    unknown = dash.sign_in(client, "nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "unknown user or wrong password" in wrong.text
    assert "unknown user or wrong password" in unknown.text
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert client.get(f"{PREFIX}/").status_code == 303


def test_every_page_redirects_to_sign_in_without_a_session(dash: Dash) -> None:
    client = dash.anonymous()
    checked = []
    for page in PAGES:
        path = page.fill(job_id=JOB_ID, schedule_id=SCHEDULE_ID, alert_id=ALERT_ID)
        answer = client.get(PREFIX + path)
        assert answer.status_code == 303, (path, answer.status_code)
        location = answer.headers["location"]
        assert location.startswith(f"{PREFIX}/login?next="), location
        checked.append(page.name)
    assert {"overview", "queues", "audit"} <= set(checked)
    assert client.get(f"{PREFIX}/fragments/overview").status_code == 303


def test_a_viewer_is_refused_every_page_for_a_higher_role(dash: Dash) -> None:
    client = dash.client("viewer")
    refused = []
    for page in PAGES:
        if page.role == Role.VIEWER.value:
            continue
        path = page.fill(job_id=JOB_ID, schedule_id=SCHEDULE_ID, alert_id=ALERT_ID)
        assert client.get(PREFIX + path).status_code == 403, path
        refused.append(page.name)
    assert len(refused) >= 4, refused  # run now, new schedule, edit schedule, audit...


def test_sign_in_goes_on_to_next_only_inside_the_dashboard(dash: Dash) -> None:
    client = dash.anonymous()
    dash.user("viewer")
    first = client.get(f"{PREFIX}/queues")
    assert first.headers["location"] == f"{PREFIX}/login?next={PREFIX}/queues"
    for target, expected in [
        (f"{PREFIX}/queues", f"{PREFIX}/queues"),
        ("https://evil.example/", f"{PREFIX}/"),
        ("//evil.example/dashboard/", f"{PREFIX}/"),
        ("/elsewhere", f"{PREFIX}/"),
    ]:
        form = client.get(f"{PREFIX}/login")
        done = client.post(
            f"{PREFIX}/login",
            data={"name": "viewer", "password": PASSWORD, "csrf": csrf(form), "next": target},
        )
        assert done.headers["location"] == expected, target
        client.cookies.clear()


def test_a_post_without_the_csrf_token_is_refused(dash: Dash) -> None:
    client = dash.client("admin")
    page = client.get(f"{PREFIX}/queues")
    for data in ({}, {"csrf": ""}, {"csrf": csrf(page) + "x"}):
        refused = client.post(f"{PREFIX}/queues/mail/pause", data=data)
        assert refused.status_code == 403, data
        assert "did not come from the dashboard" in refused.text
    assert not dash.hh.queue("mail").paused
    # another user's token is not this session's
    other = dash.client("operator").get(f"{PREFIX}/")
    assert client.post(f"{PREFIX}/queues/mail/pause", data={"csrf": csrf(other)}).status_code == 403
    assert client.post(f"{PREFIX}/logout", data={}).status_code == 403
    assert client.get(f"{PREFIX}/").status_code == 200  # still signed in


def test_the_sign_in_form_needs_its_own_token(dash: Dash) -> None:
    client = dash.anonymous()
    dash.user("admin")
    client.get(f"{PREFIX}/login")
    refused = client.post(
        f"{PREFIX}/login", data={"name": "admin", "password": PASSWORD, "csrf": "forged"}
    )
    assert refused.status_code == 403
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")


def test_a_post_without_a_session_goes_to_sign_in(dash: Dash) -> None:
    client = dash.anonymous()
    answer = client.post(f"{PREFIX}/queues/mail/pause", data={"csrf": "anything"})
    assert answer.status_code == 303 and answer.headers["location"] == f"{PREFIX}/login"
    assert not dash.hh.queue("mail").paused


def test_sign_in_is_rate_limited_per_name_and_address(dash: Dash) -> None:
    client = dash.anonymous()
    for _ in range(MAX_FAILURES):
        assert dash.sign_in(client, "viewer", "wrong password").status_code == 401
    limited = dash.sign_in(client, "viewer")  # the right password, too late
    assert limited.status_code == 429 and "Too many failed sign-ins" in limited.text
    assert SESSION_COOKIE not in limited.headers.get("set-cookie", "")
    assert dash.sign_in(client, "operator").status_code == 303  # another name may
    client.cookies.clear()
    with time_machine.travel(timedelta(minutes=6), tick=False):
        assert dash.sign_in(client, "viewer").status_code == 303


def test_sign_ins_sent_at_once_cannot_outrun_the_limit(dash: Dash) -> None:
    dash.user("viewer")
    app = dash.hh.asgi_app()

    async def attempts() -> list[int]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
            token = csrf(await client.get(f"{PREFIX}/login"))
            form = {"name": "viewer", "org": "", "password": "wrong", "csrf": token}
            answers = await asyncio.gather(
                *(client.post(f"{PREFIX}/login", data=form) for _ in range(4 * MAX_FAILURES))
            )
            return sorted(answer.status_code for answer in answers)

    codes = asyncio.run(attempts())
    # each attempt counts as it arrives: only the first MAX_FAILURES had a password checked
    assert codes == [401] * MAX_FAILURES + [429] * (3 * MAX_FAILURES)


def test_failures_spread_over_many_names_from_one_address_are_limited_too() -> None:
    limits = LoginLimiter()
    for n in range(MAX_FAILURES_PER_ADDRESS):
        wait, _ = limits.begin((f"name{n}", "", "10.0.0.1"))
        assert wait == 0
    assert limits.begin(("someone else", "", "10.0.0.1"))[0] > 0  # the address is spent
    assert limits.begin(("someone else", "", "10.0.0.2"))[0] == 0  # another address is not
    # a sign-in that succeeds does not count against its address
    for n in range(MAX_FAILURES_PER_ADDRESS - 1):
        limits.begin((f"name{n}", "", "10.0.0.3"))
    wait, stamp = limits.begin(("ok", "", "10.0.0.3"))
    assert wait == 0
    limits.succeeded(("ok", "", "10.0.0.3"), stamp)
    assert limits.begin(("last", "", "10.0.0.3"))[0] == 0
    assert limits.begin(("after", "", "10.0.0.3"))[0] > 0


def test_a_disabled_users_session_stops(dash: Dash) -> None:
    client = dash.client("operator")
    assert client.get(f"{PREFIX}/").status_code == 200
    dash.hh.ops.users.disable(Actor.app("tests"), "operator")
    answer = client.get(f"{PREFIX}/")
    assert answer.status_code == 303 and answer.headers["location"].startswith(f"{PREFIX}/login")
    assert dash.sign_in(dash.anonymous(), "operator").status_code == 401


def test_a_session_expires_and_a_forged_one_is_refused(dash: Dash) -> None:
    client = dash.client("viewer")
    cookie = client.cookies[SESSION_COOKIE]
    body, _, mac = cookie.partition(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forged = payload.replace(b'"uid": ', b'"uid": 1').rstrip(b"}") + b"}"
    forged_body = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    other = dash.anonymous()
    other.cookies.set(SESSION_COOKIE, f"{forged_body}.{mac}", path=PREFIX)
    assert other.get(f"{PREFIX}/").status_code == 303
    replay = dash.anonymous()  # the cookie sent as is, whatever the browser's jar does
    replay.cookies.set(SESSION_COOKIE, cookie, path=PREFIX)
    assert replay.get(f"{PREFIX}/").status_code == 200
    with time_machine.travel(timedelta(hours=13), tick=False):
        assert replay.get(f"{PREFIX}/").status_code == 303


def test_pages_carry_the_security_headers(dash: Dash) -> None:
    client = dash.client("admin")
    for path in ("/", "/login", "/queues", "/no-such-page", "/static/hourhand.css"):
        answer = client.get(PREFIX + path)
        headers = answer.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    assert client.get(f"{PREFIX}/").headers["cache-control"] == "no-store"
    assert client.get(f"{PREFIX}/no-such-page").status_code == 404


@pytest.fixture
def hosted(store_url: str) -> Iterator[tuple[Hourhand, TestClient]]:
    """The dashboard mounted in an app of the user's, behind that app's own auth: a
    header stands for its signed-in user."""
    hh = Hourhand(store_url)

    def auth(request: Request) -> Actor | None:
        who = request.headers.get("x-user")
        if who is None:
            return None
        if who == "intern":  # signed in to the host app, but not allowed here
            raise Forbidden("the jobs dashboard is for staff")
        return Actor("user", who, Role.ADMIN if who == "boss" else Role.VIEWER)

    app = FastAPI()
    mount(app, hh, prefix="/ops/jobs", auth=auth)
    with TestClient(app, follow_redirects=False) as client:
        yield hh, client
    hh.close()


def test_mounted_behind_the_host_apps_auth(hosted: tuple[Hourhand, TestClient]) -> None:
    hh, client = hosted
    assert client.get("/ops/jobs/").status_code == 401
    refused_outright = client.get("/ops/jobs/", headers={"x-user": "intern"})
    assert refused_outright.status_code == 403 and "for staff" in refused_outright.text
    page = client.get("/ops/jobs/queues", headers={"x-user": "boss"})
    assert page.status_code == 200 and 'href="/ops/jobs/static/hourhand.css"' in page.text
    token = csrf(page)
    assert client.get("/ops/jobs/login").status_code == 404  # hourhand's sign-in is off
    assert (
        client.post("/ops/jobs/queues/q1/pause", headers={"x-user": "boss"}, data={}).status_code
        == 403
    )
    done = client.post(
        "/ops/jobs/queues/q1/pause", headers={"x-user": "boss"}, data={"csrf": token}
    )
    assert done.status_code == 303 and done.headers["location"] == "/ops/jobs/queues"
    assert hh.queue("q1").paused
    # a viewer's token is not the boss's, and a viewer may not pause anyway
    viewer_page = client.get("/ops/jobs/", headers={"x-user": "ann"})
    refused = client.post(
        "/ops/jobs/queues/q1/resume", headers={"x-user": "ann"}, data={"csrf": csrf(viewer_page)}
    )
    assert refused.status_code == 403 and hh.queue("q1").paused
