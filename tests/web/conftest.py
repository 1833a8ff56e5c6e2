"""An API app on each store (the ``store_url`` fixture), with keys of every role made
through ``hh.ops.keys``, and a TestClient over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hourhand import Hourhand
from hourhand.ops import Actor
from tests.apps.web_app import define
from tests.web.dash import Dash, make_dash

# name -> (role, org)
KEYS = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "org_a": ("operator", "org_a"),
    "org_b": ("operator", "org_b"),
    "org_a_viewer": ("viewer", "org_a"),
    "org_a_admin": ("admin", "org_a"),
    "revoked": ("admin", None),
}


@dataclass
class Api:
    hh: Hourhand
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def call(self, method: str, path: str, who: str | None = "admin", **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers.update(self.auth(who))
        return self.client.request(method, path, headers=headers, **kw)


def make_keys(hh: Hourhand) -> dict[str, str]:
    keys = {}
    for name, (role, org) in KEYS.items():
        made, secret = hh.ops.keys.create(Actor.app("tests"), name, role, org)
        keys[name] = secret
        if name == "revoked":
            hh.ops.keys.revoke(Actor.app("tests"), made.id)
    return keys


@pytest.fixture
def api(store_url: str) -> Iterator[Api]:
    hh = define(Hourhand(store_url))
    with TestClient(hh.asgi_app(), raise_server_exceptions=False) as client:
        yield Api(hh, client, make_keys(hh))
    hh.close()


@pytest.fixture
def dash(store_url: str) -> Iterator[Dash]:
    """The dashboard on each store, with users of every role (tests/web/dash.py)."""
    yield from make_dash(store_url)
