"""Signing in to the dashboard from a TestClient: users of every role made through
``hh.ops.users``, a client per user with its session cookie, and its CSRF token read from
a page (as a browser would)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from hourhand import Hourhand
from hourhand.ops import Actor

PASSWORD = "correct horse battery staple"
# name -> (role, org)
USERS = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "org_a": ("operator", "org_a"),
    "org_b": ("operator", "org_b"),
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_users(hh: Hourhand) -> None:
    for name, (role, org) in USERS.items():
        hh.ops.users.create(Actor.app("tests"), name, role, PASSWORD, org)


class Browser:
    """A TestClient signed in as one user."""

    def __init__(self, hh: Hourhand, name: str) -> None:
        self.client = TestClient(hh.asgi_app(), raise_server_exceptions=False)
        self.client.__enter__()
        page = self.client.get("/dashboard/login")
        org = USERS[name][1] or ""
        form = {"name": name, "password": PASSWORD, "org": org, "csrf": csrf_of(page.text)}
        signed_in = self.client.post("/dashboard/login", data=form, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        self.csrf = csrf_of(self.get("/schedules").text)

    def get(self, path: str, **kw: Any) -> Response:
        return self.client.get("/dashboard" + path, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> Response:
        """A form POST with the session's CSRF token (``csrf=None`` in data: without)."""
        form = {"csrf": self.csrf, **(data or {})}
        form = {k: v for k, v in form.items() if v is not None}
        kw.setdefault("follow_redirects", False)
        return self.client.post("/dashboard" + path, data=form, **kw)

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)
