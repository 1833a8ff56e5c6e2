"""Signing in through the form in Chromium, on both stores: the session cookie's flags,
the overview, the user's last sign-in in the database, and signing out."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser

from hourhand.ops import Actor
from tests.browser import seed
from tests.browser.conftest import DESKTOP, Live, Tab


def last_login(live: Live, name: str) -> object:
    [user] = [u for u in live.hh.ops.users.list(Actor.app("check")) if u.name == name]
    return user.last_login_at


def test_sign_in_opens_the_overview_and_notes_the_sign_in(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(live.url("/?from=bookmark"))
        assert "/login" in page.url and "next=" in page.url  # no session: to the sign-in
        before = last_login(live, "operator")
        page.fill("#login-name", "operator")
        page.fill("#login-password", "not the password")
        page.click("form button[type=submit]")
        assert page.locator(".flash-error").is_visible()
        page.fill("#login-password", seed.PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        assert page.url.endswith("/dashboard/?from=bookmark")  # back where it was going
        [cookie] = [c for c in context.cookies() if c["name"] == "hourhand_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/dashboard"
        after = last_login(live, "operator")
        assert after is not None and after != before

        page.click("form[action$='/logout'] button")
        page.wait_for_url(lambda url: "/login" in url)
        assert not [c for c in context.cookies() if c["name"] == "hourhand_session"]
        page.goto(live.url("/"))
        assert "/login" in page.url
    finally:
        context.close()


def test_a_signed_in_page_names_the_user(tab: Callable[..., Tab]) -> None:
    t = tab("org_a")
    t.goto("/")
    assert t.page.locator(".who-name").inner_text().startswith("org_a")
    assert "org_a" in t.page.locator(".who").inner_text()
