"""Fixtures of the browser tests: a live server on each store (one per test module and
store, seeded by the module), Debian's Chromium driven by Playwright (one browser for the
session), and pages signed in as a user of each role.

A module seeds its server with ``def seed_live(hh) -> Seeded`` (default: a job in every
state, a schedule and a firing alert; users of every role are always made)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from hourhand import Hourhand
from tests.browser import seed
from tests.browser.live import Guard, LiveServer

CHROMIUM = "/usr/bin/chromium"  # Debian's; never a browser downloaded by playwright
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PREFIX = "/dashboard"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
TIMEOUT_MS = 10_000  # Playwright's wait for any one thing


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in the main thread while it is open, and every later test that
    calls asyncio.run (the rest of the suite) would fail."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database of each kind for one module (the ``store_url`` of a module)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('browser')}/hourhand.db"
    server = request.getfixturevalue("pg_server")
    url: str = server.create_database("hourhand_browser")
    return url


@dataclass
class Live:
    """The live server of a module, its app (to check the database) and what was seeded."""

    hh: Hourhand
    server: LiveServer
    seeded: Any  # what the module's seed_live returned (seed.Seeded or corpus.Evil)
    states: dict[str, Any] = field(default_factory=dict)  # (role) -> signed-in storage

    def url(self, path: str) -> str:
        return self.server.url(PREFIX + path)


def default_seed(hh: Hourhand) -> seed.Seeded:
    return seed.every_state(hh)


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest, live_url: str) -> Iterator[Live]:
    hh = seed.define(Hourhand(live_url))
    seed.users(hh)
    seeded = getattr(request.module, "seed_live", default_seed)(hh)
    server = LiveServer(hh).start()
    try:
        yield Live(hh, server, seeded)
    finally:
        server.stop()
        hh.close()


# who -> (user name, organisation) of the users seed.users made
def who(name: str) -> tuple[str, str]:
    role_org = seed.USERS.get(name)
    return (name, (role_org[1] or "") if role_org else "")


@dataclass
class Tab:
    """A signed-in page and the guard watching it."""

    page: Page
    guard: Guard
    live: Live

    def goto(self, path: str, status: int = 200) -> Response:
        """Open a dashboard path; the response of the page (after redirects)."""
        response = self.page.goto(self.live.url(path))
        assert response is not None, path
        assert response.status == status, f"{path}: {response.status}"
        return response


def sign_in(context: BrowserContext, live: Live, name: str, org: str, password: str) -> None:
    """Through the sign-in form, as a person would."""
    page = context.new_page()
    page.goto(live.url("/login"))
    page.fill("#login-name", name)
    page.fill("#login-org", org)
    page.fill("#login-password", password)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.close()


@pytest.fixture
def tab(live: Live, browser: Browser) -> Iterator[Callable[..., Tab]]:
    """``tab(user, org="", password=..., dialogs=False, viewport=DESKTOP)``: a new page
    signed in as a seeded user, watched by a Guard that must be clean at the end."""
    opened: list[tuple[BrowserContext, Tab]] = []

    def open_tab(
        user: str,
        org: str | None = None,
        password: str = seed.PASSWORD,
        *,
        dialogs: bool = False,
        viewport: dict[str, int] | None = None,
    ) -> Tab:
        name, default_org = who(user)
        org = default_org if org is None else org
        key = (name, org)
        if key not in live.states:
            context = browser.new_context(viewport=DESKTOP)
            sign_in(context, live, name, org, password)
            live.states[key] = context.storage_state()
            context.close()
        context = browser.new_context(viewport=viewport or DESKTOP, storage_state=live.states[key])
        context.set_default_timeout(TIMEOUT_MS)
        guard = Guard(live.server.origin, allow_dialogs=dialogs)
        made = Tab(guard.attach(context.new_page()), guard, live)
        opened.append((context, made))
        return made

    yield open_tab
    for context, _ in opened:
        context.close()
    for _, made in opened:
        made.guard.assert_clean("the page")
