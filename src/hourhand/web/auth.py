"""Who is calling: ``Authorization: Bearer <key>`` on every /v1 route, checked by
``hh.ops.keys.authenticate``. Keys are taken from that header only, never from a query
string (which access logs record)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hourhand.app import Hourhand
from hourhand.errors import NotAuthenticated
from hourhand.ops import Actor

bearer = HTTPBearer(auto_error=False, description="An API key: `hourhand keys create`.")


def hourhand(request: Request) -> Hourhand:
    app: Hourhand = request.app.state.hourhand
    return app


def optional_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor | None:
    """The caller, or None without an Authorization header; a bad key is refused."""
    header = request.headers.get("authorization")
    if not header:
        return None
    if credentials is None or not credentials.credentials.strip():
        raise NotAuthenticated("expected 'Authorization: Bearer <API key>'")
    address = request.client.host if request.client else None
    return hourhand(request).ops.keys.authenticate(credentials.credentials.strip(), address)


def actor(caller: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """The caller; 401 without a valid key."""
    if caller is None:
        raise NotAuthenticated("this route needs an API key: 'Authorization: Bearer <key>'")
    return caller


Caller = Annotated[Actor, Depends(actor)]
MaybeCaller = Annotated[Actor | None, Depends(optional_actor)]
App = Annotated[Hourhand, Depends(hourhand)]
