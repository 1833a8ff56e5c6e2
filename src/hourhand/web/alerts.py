"""/v1/alerts: firing, pending and past alerts (acknowledge, silence), the alert rules
(those of the config file and the code, read-only; those made here, org-scoped), and a
test notification through a channel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response

from hourhand.web.alert_models import (
    AlertOut,
    ChannelTestIn,
    NotificationOut,
    RuleIn,
    RuleOut,
    SilenceIn,
)
from hourhand.web.auth import App, Caller

router = APIRouter(tags=["alerts"])

RuleName = Annotated[str, Path(min_length=1, max_length=200)]


# (the rules' routes come first: /v1/alerts/rules is not an alert's id)
@router.get("/v1/alerts/rules", response_model=list[RuleOut])
def list_rules(app: App, actor: Caller) -> list[RuleOut]:
    """Every rule with where it comes from (an organisation's key sees its own)."""
    return [RuleOut.of(r) for r in app.ops.alerts.rules(actor)]


@router.post("/v1/alerts/rules", response_model=RuleOut, status_code=201)
def create_rule(app: App, actor: Caller, body: RuleIn) -> RuleOut:
    """Add a rule (stored in the database; an organisation's key makes one of its own)."""
    spec = body.model_dump(by_alias=True, exclude_none=True, exclude={"name"})
    return RuleOut.of(app.ops.alerts.create_rule(actor, body.name, spec))


@router.get("/v1/alerts/rules/{name}", response_model=RuleOut)
def get_rule(app: App, actor: Caller, name: RuleName) -> RuleOut:
    return RuleOut.of(app.ops.alerts.rule(actor, name))


@router.patch("/v1/alerts/rules/{name}", response_model=RuleOut)
def update_rule(
    app: App,
    actor: Caller,
    name: RuleName,
    changes: Annotated[dict[str, Any], Body(description="Keys of the rule to change.")],
) -> RuleOut:
    """Change keys of a rule made through the API."""
    return RuleOut.of(app.ops.alerts.update_rule(actor, name, changes))


@router.delete("/v1/alerts/rules/{name}", status_code=204, response_class=Response)
def delete_rule(app: App, actor: Caller, name: RuleName) -> Response:
    """Delete a rule made through the API (its open alerts resolve at the next evaluation)."""
    app.ops.alerts.delete_rule(actor, name)
    return Response(status_code=204)


@router.post("/v1/alerts/test", response_model=NotificationOut)
def send_test(app: App, actor: Caller, body: ChannelTestIn) -> NotificationOut:
    """Send a sample notification through a channel of the config file now (502 if the
    channel does not take it)."""
    note = app.ops.alerts.send_test(actor, body.channel)
    return NotificationOut(**{k: getattr(note, k) for k in NotificationOut.model_fields})


@router.get("/v1/alerts", response_model=list[AlertOut])
def list_alerts(
    app: App,
    actor: Caller,
    state: Literal["pending", "firing", "resolved", "open"] | None = None,
    rule: Annotated[str | None, Query(max_length=200)] = None,
    before_id: Annotated[int | None, Query(ge=1, description="Alerts older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """Alerts, newest first: open ones (pending or firing) and past ones (resolved)."""
    found = app.ops.alerts.list(actor, state=state, rule=rule, before_id=before_id, limit=limit)
    return [AlertOut.of(a) for a in found]


AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/v1/alerts/{alert_id}", response_model=AlertOut)
def get_alert(app: App, actor: Caller, alert_id: AlertId) -> AlertOut:
    return AlertOut.of(app.ops.alerts.get(actor, alert_id))


@router.post("/v1/alerts/{alert_id}/ack", response_model=AlertOut)
def ack(app: App, actor: Caller, alert_id: AlertId) -> AlertOut:
    """Acknowledge: a firing alert is not notified again (its resolution still is)."""
    return AlertOut.of(app.ops.alerts.ack(actor, alert_id))


@router.post("/v1/alerts/{alert_id}/unack", response_model=AlertOut)
def unack(app: App, actor: Caller, alert_id: AlertId) -> AlertOut:
    return AlertOut.of(app.ops.alerts.ack(actor, alert_id, undo=True))


@router.post("/v1/alerts/{alert_id}/silence", response_model=AlertOut)
def silence(app: App, actor: Caller, alert_id: AlertId, body: SilenceIn) -> AlertOut:
    """Send nothing about the alert for `seconds` (null: end its silence)."""
    return AlertOut.of(app.ops.alerts.silence(actor, alert_id, body.seconds))
