"""The alerts facet of a store: alerts (their lifecycle and history) and the alert rules
made through the API (``hourhand_alerts``, ``hourhand_alert_rules``: migration 0010).

An alert is one (rule, key) condition: the key names what the condition is about (a job
type, a schedule, a queue, a job). At most one alert per (rule, key) is *open* (pending or
firing) at a time, which a unique index keeps: that index is what makes several schedulers
evaluating the same rule open one alert, and every change is a compare-and-set on the
alert's state, so each change happens, and is notified, once. A change and the jobs that
notify it commit together (a notification is a job: it retries, and is never lost).

Like the store, the facet knows rows, not policies: what a rule means and when an alert
changes is :mod:`hourhand.alert_engine`'s. Each dialect implements :class:`AlertRecords`
once (``pg_alerts.py``, ``sqlite_alerts.py``) with the SQL in ``sql/<dialect>/alerts.sql``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hourhand.jobs import NewJob

OPEN_STATES = ("pending", "firing")
ALERT_STATES = ("pending", "firing", "resolved")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class NewAlert:
    """An alert to open: pending (waiting out its rule's ``for``) or firing."""

    rule: str
    rule_org: str | None  # the organisation of an API rule made by an org key
    source: str  # where the rule is: config | code | api
    key: str  # what the condition is about: "job:NAME", "schedule:ID", "queue:NAME", ...
    kind: str
    severity: str
    state: str  # pending | firing
    summary: str
    org_id: str | None = None  # the organisation the alert is about, when there is one
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRow:
    """An alert as stored: open, or resolved (history)."""

    id: int
    rule: str
    rule_org: str | None
    source: str  # where its rule is: config | code | api
    key: str
    kind: str
    severity: str
    state: str  # pending | firing | resolved
    summary: str
    details: dict[str, Any]
    org_id: str | None
    opened_at: datetime  # when the condition was first seen (pending or firing)
    fired_at: datetime | None  # when it started firing (None: it never did)
    resolved_at: datetime | None
    notified_at: datetime | None  # the last notification's time
    notifications: int  # how many notifications were sent (firing, repeats, resolved)
    acked_at: datetime | None
    acked_by: str | None
    silenced_until: datetime | None

    def silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and self.silenced_until > now

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "rule_org": self.rule_org,
            "source": self.source,
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "summary": self.summary,
            "details": self.details,
            "org_id": self.org_id,
            "opened_at": _iso(self.opened_at),
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "notified_at": _iso(self.notified_at),
            "notifications": self.notifications,
            "acked_at": _iso(self.acked_at),
            "acked_by": self.acked_by,
            "silenced_until": _iso(self.silenced_until),
        }


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts to list, newest first."""

    state: str | None = None  # pending | firing | resolved | "open" (pending or firing)
    rule: str | None = None
    org_id: str | None = None  # only alerts about this organisation
    before_id: int | None = None  # keyset pagination
    limit: int = 100


@dataclass(frozen=True)
class StoredRule:
    """An alert rule made through the API: its definition is the JSON of an
    :class:`hourhand.alert_config.AlertRule`."""

    id: int
    name: str
    org_id: str | None  # the organisation of the key that made it (None: cluster)
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class RecentAttempt:
    """One recorded attempt, for the rules that look at a job type's or a schedule's
    latest runs."""

    job_id: int
    name: str
    outcome: str  # completed | failed | timeout | lost | cancelled | ...
    finished_at: datetime
    duration: float | None
    error: str | None


def decode_alert(
    row: dict[str, Any], time: Callable[[Any], Any], js: Callable[[Any], Any]
) -> AlertRow:
    return AlertRow(
        id=int(row["id"]),
        rule=row["rule"],
        rule_org=row["rule_org"] or None,
        source=row["source"],
        key=row["key"],
        kind=row["kind"],
        severity=row["severity"],
        state=row["state"],
        summary=row["summary"],
        details=js(row["details"]) or {},
        org_id=row["org_id"],
        opened_at=time(row["opened_at"]),
        fired_at=time(row["fired_at"]),
        resolved_at=time(row["resolved_at"]),
        notified_at=time(row["notified_at"]),
        notifications=int(row["notifications"]),
        acked_at=time(row["acked_at"]),
        acked_by=row["acked_by"],
        silenced_until=time(row["silenced_until"]),
    )


def decode_rule(
    row: dict[str, Any], time: Callable[[Any], Any], js: Callable[[Any], Any]
) -> StoredRule:
    return StoredRule(
        id=int(row["id"]),
        name=row["name"],
        org_id=row["org_id"] or None,
        spec=js(row["spec"]) or {},
        created_at=time(row["created_at"]),
        updated_at=time(row["updated_at"]),
        created_by=row["created_by"],
    )


CHANGEABLE = ("state", "fired_at", "resolved_at", "notified_at", "summary", "details")
EXPECTABLE = ("state", "notified_at")


def insert_params(
    alert: NewAlert, at: datetime, notifications: int, time: Callable[[datetime | None], Any]
) -> dict[str, Any]:
    firing = alert.state == "firing"
    return {
        "rule": alert.rule,
        "rule_org": alert.rule_org or "",
        "source": alert.source,
        "key": alert.key,
        "kind": alert.kind,
        "severity": alert.severity,
        "state": alert.state,
        "summary": alert.summary,
        "org_id": alert.org_id,
        "at": time(at),
        "fired_at": time(at) if firing else None,
        "notified_at": time(at) if notifications else None,
        "notifications": notifications,
    }


def change_sql(
    alert_id: int,
    expect: dict[str, Any],
    values: dict[str, Any],
    notifications: int,
    placeholder: str,
    same: str,
) -> tuple[str, dict[str, Any]]:
    """The compare-and-set UPDATE of :meth:`AlertRecords.change_alert` in a dialect
    (``placeholder``: ``%({})s`` or ``:{}``; ``same``: its null-safe equality)."""
    bad = (set(values) - set(CHANGEABLE)) | (set(expect) - set(EXPECTABLE))
    if bad:
        raise ValueError(f"alert columns that cannot be changed or compared: {sorted(bad)}")
    params: dict[str, Any] = {"id": alert_id, "n": notifications}
    sets = [f"{k} = {placeholder.format('v_' + k)}" for k in values]
    sets.append(f"notifications = notifications + {placeholder.format('n')}")
    params |= {"v_" + k: v for k, v in values.items()}
    where = [f"id = {placeholder.format('id')}"]
    where += [f"{k} {same} {placeholder.format('e_' + k)}" for k in expect]
    params |= {"e_" + k: v for k, v in expect.items()}
    if "details" in values:
        params["details"] = params.pop("v_details")
        sets = [
            s if not s.startswith("details") else f"details = {placeholder.format('details')}"
            for s in sets
        ]
    sql = f"UPDATE hourhand_alerts SET {', '.join(sets)} WHERE {' AND '.join(where)} RETURNING id"
    return sql, params


class AlertRecords(ABC):
    """Primitive operations on the alerts and alert rules tables. Blocking and
    thread-safe, with the store's errors. Times are the database's clock unless a method
    takes ``at`` (the evaluator's clock, so tests can drive it)."""

    # -- alerts ---------------------------------------------------------------------------
    @abstractmethod
    def open_alerts(self) -> list[AlertRow]:
        """Every pending or firing alert."""

    @abstractmethod
    def insert_alert(
        self, alert: NewAlert, at: datetime, notify: Sequence[NewJob] = ()
    ) -> AlertRow | None:
        """Open an alert, and in the same transaction enqueue ``notify``; None (and
        nothing enqueued) if the (rule, key) already has an open alert."""

    @abstractmethod
    def change_alert(
        self,
        alert_id: int,
        expect: dict[str, Any],
        values: dict[str, Any],
        notify: Sequence[NewJob] = (),
    ) -> bool:
        """Compare-and-set: where the alert's columns equal ``expect`` (``state``,
        ``notified_at``), set ``values`` (state, fired_at, resolved_at, notified_at,
        summary, details; ``notifications`` counts up by ``len(notify)``) and enqueue
        ``notify``, in one transaction. False, and nothing done, if it had changed."""

    @abstractmethod
    def get_alert(self, alert_id: int) -> AlertRow | None: ...

    @abstractmethod
    def list_alerts(self, query: AlertQuery) -> list[AlertRow]:
        """Alerts by the query, newest first."""

    @abstractmethod
    def ack_alert(self, alert_id: int, by: str, at: datetime | None) -> AlertRow | None:
        """Acknowledge (``at`` None: take it back); None if there is no such alert."""

    @abstractmethod
    def silence_alert(self, alert_id: int, until: datetime | None) -> AlertRow | None:
        """Silence until a time (None: no longer silenced); None if there is none."""

    @abstractmethod
    def prune_alerts(self, resolved_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` alerts resolved before a time; how many went."""

    # -- the rules' inputs ----------------------------------------------------------------
    @abstractmethod
    def recent_attempts(
        self,
        *,
        name: str | None = None,
        schedule_id: int | None = None,
        org_id: str | None = None,
        limit: int = 10,
        scan: int = 10_000,
    ) -> list[RecentAttempt]:
        """The latest ``limit`` attempts (newest finished first) of the jobs of a type, or
        of a schedule, among the newest ``scan`` such jobs (a schedule's) or the newest
        ``scan`` jobs of all (a type's, which no index finds faster)."""

    # -- rules made through the API -------------------------------------------------------
    @abstractmethod
    def insert_rule(
        self, name: str, org_id: str | None, spec: dict[str, Any], created_by: str | None
    ) -> StoredRule:
        """Add a rule; Conflict if the organisation (or the cluster) has one of that name."""

    @abstractmethod
    def list_rules(self, org_id: str | None = None, *, every: bool = True) -> list[StoredRule]:
        """Rules by name: all of them (``every``), else those of ``org_id`` (None: the
        cluster's)."""

    @abstractmethod
    def get_rule(self, name: str, org_id: str | None) -> StoredRule | None: ...

    @abstractmethod
    def update_rule(self, name: str, org_id: str | None, spec: dict[str, Any]) -> StoredRule | None:
        """Replace a rule's definition; None if there is none."""

    @abstractmethod
    def delete_rule(self, name: str, org_id: str | None) -> bool: ...
