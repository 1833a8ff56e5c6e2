"""The REST API's bodies for alerts and alert rules (see models.py for the rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hourhand.alert_config import AlertRule
from hourhand.ops.alerts import RuleInfo
from hourhand.store import AlertRow
from hourhand.web.models import Body


class AlertOut(BaseModel):
    id: int
    rule: str
    key: str = Field(description="What it is about: job:NAME, schedule:ID, queue:NAME, run:ID")
    kind: str
    severity: Literal["critical", "warning", "info"]
    state: Literal["pending", "firing", "resolved"]
    summary: str
    details: dict[str, Any]
    org_id: str | None
    opened_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    notified_at: datetime | None
    notifications: int
    acked_at: datetime | None
    acked_by: str | None
    silenced_until: datetime | None

    @classmethod
    def of(cls, alert: AlertRow) -> AlertOut:
        return cls(**{k: getattr(alert, k) for k in cls.model_fields})


class SilenceIn(Body):
    seconds: float | None = Field(
        default=3600, ge=1, le=365 * 86400, description="How long; null ends the silence."
    )


class RuleIn(AlertRule):
    """A rule: its name, and the keys of an ``[alerts.NAME]`` table (docs/alerts.md)."""

    name: str = Field(min_length=1, max_length=200)


class RuleOut(BaseModel):
    name: str
    source: Literal["config", "code", "api"]
    org_id: str | None
    rule: dict[str, Any] = Field(description="The rule's keys, as in an [alerts.NAME] table.")

    @classmethod
    def of(cls, info: RuleInfo) -> RuleOut:
        spec = info.rule.model_dump(by_alias=True, exclude_none=True)
        return cls(name=info.name, source=info.source, org_id=info.org_id, rule=spec)  # type: ignore[arg-type]


class ChannelTestIn(Body):
    channel: str = Field(min_length=1, max_length=200)


class NotificationOut(BaseModel):
    rule: str
    kind: str
    severity: str
    state: str
    summary: str
    at: datetime
