"""/v1/keys (admins), /v1/audit and /v1/workers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hourhand.web.auth import App, Caller
from hourhand.web.models import AuditOut, KeyCreatedOut, KeyIn, KeyOut, ProcessOut

router = APIRouter()


@router.get("/v1/keys", response_model=list[KeyOut], tags=["keys"])
def list_keys(app: App, actor: Caller) -> list[KeyOut]:
    """API keys, revoked ones too (never their secrets)."""
    return [KeyOut.of(k) for k in app.ops.keys.list(actor)]


@router.post("/v1/keys", response_model=KeyCreatedOut, status_code=201, tags=["keys"])
def create_key(app: App, actor: Caller, body: KeyIn) -> KeyCreatedOut:
    """A new key; `key` is its secret, shown this once."""
    made, secret = app.ops.keys.create(actor, body.name, body.role, body.org)
    return KeyCreatedOut(**KeyOut.of(made).model_dump(), key=secret)


@router.delete("/v1/keys/{key_id}", response_model=KeyOut, tags=["keys"])
def revoke_key(app: App, actor: Caller, key_id: int) -> KeyOut:
    """Revoke a key at once (its next request is refused); answers the revoked key."""
    return KeyOut.of(app.ops.keys.revoke(actor, key_id))


@router.get("/v1/audit", response_model=list[AuditOut], tags=["audit"])
def audit(
    app: App,
    actor: Caller,
    target_kind: str | None = None,
    target_id: str | None = None,
    action: Annotated[str | None, Query(examples=["job.retry"])] = None,
    org: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(description="Entries older than this id.")] = None,
) -> list[AuditOut]:
    """Who did what, newest first (an organisation's key sees its organisation's)."""
    found = app.ops.audit.list(actor, target_kind, target_id, action, limit, before_id, org_id=org)
    return [AuditOut.of(e) for e in found]


@router.get("/v1/workers", response_model=list[ProcessOut], tags=["workers"])
def workers(app: App, actor: Caller, include_dead: bool = False) -> list[ProcessOut]:
    """The live worker and scheduler processes (with include_dead, those lately gone too)."""
    return [ProcessOut.of(p) for p in app.ops.workers.list(actor, include_dead)]
