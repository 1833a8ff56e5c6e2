"""Support for the dashboard's tests: an app on each store with users of every role
(made through ``hh.ops.users`` when first signed in), and TestClients signed in as any.

    def test_x(dash: Dash) -> None:
        client = dash.client("operator")          # signed in
        page = client.get("/dashboard/queues")
        client.post("/dashboard/queues/mail/pause", data={"csrf": csrf(page)})

The ``dash`` fixture is in tests/web/conftest.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
from fastapi.testclient import TestClient

from hourhand import Hourhand
from hourhand.ops import Actor
from tests.apps.web_app import define

PASSWORD = "a password of the tests"
PREFIX = "/dashboard"
# name -> (role, org)
USERS = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "org_a": ("operator", "org_a"),
    "org_b": ("operator", "org_b"),
    "org_a_admin": ("admin", "org_a"),
}

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf(page: httpx2.Response | str) -> str:
    """The CSRF token of the first form of a page."""
    text = page if isinstance(page, str) else page.text
    found = _CSRF.search(text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Dash:
    hh: Hourhand
    clients: list[TestClient] = field(default_factory=list)
    made: set[str] = field(default_factory=set)  # the users of USERS made so far

    def anonymous(self) -> TestClient:
        """A client without a session (redirects are not followed)."""
        client = TestClient(self.hh.asgi_app(), follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        return client

    def user(self, who: str) -> None:
        """Make user ``who`` of USERS, unless made already (hashing takes a while)."""
        if who in USERS and who not in self.made:
            role, org = USERS[who]
            self.hh.ops.users.create(Actor.app("tests"), who, role, PASSWORD, org)
            self.made.add(who)

    def sign_in(self, client: TestClient, who: str, password: str = PASSWORD) -> httpx2.Response:
        """Post the sign-in form as user ``who`` (of its organisation, if it has one)."""
        self.user(who)
        form = client.get(f"{PREFIX}/login")
        org = USERS[who][1] if who in USERS else None
        return client.post(
            f"{PREFIX}/login",
            data={
                "name": who,
                "org": org or "",
                "password": password,
                "csrf": csrf(form),
                "next": f"{PREFIX}/",
            },
        )

    def client(self, who: str = "admin") -> TestClient:
        """A client signed in as ``who``."""
        client = self.anonymous()
        done = self.sign_in(client, who)
        assert done.status_code == 303, done.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)


def make_dash(store_url: str) -> Iterator[Dash]:
    dash = Dash(define(Hourhand(store_url)))
    hh = dash.hh
    try:
        yield dash
    finally:
        dash.close()
        hh.close()
