"""/v1/alerts and /v1/alerts/rules on both stores: rules from the config file (read-only)
and made through the API (org-scoped), alerts listed, acknowledged and silenced, and a
test notification; the `hourhand alerts` commands over the same operations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourhand.ops import Actor
from tests.acceptance.test_cli import hourhand
from tests.web.conftest import Api

CONFIG = """
[channels.ops-log]
kind = "log"

[channels.org-a-log]
kind = "log"
orgs = ["org_a"]

[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 0
severity = "critical"
channels = ["ops-log"]
"""


@pytest.fixture
def alerting(api: Api, tmp_path: Path) -> Path:
    path = tmp_path / "hourhand.toml"
    path.write_text(CONFIG)
    api.hh.load_alerting(path)
    return path


def fire_backlog(api: Api) -> int:
    """Enqueue a job and evaluate: the config's backlog rule fires; the alert's id."""
    api.hh.enqueue("add", {"a": 1, "b": 2})
    result = api.hh.alert_engine().evaluate(api.hh.store.now())
    [alert_id] = result.fired
    return alert_id


def test_rules_config_and_api_with_org_scope(api: Api, alerting: Path) -> None:
    [config_rule] = api.call("GET", "/v1/alerts/rules").json()
    assert config_rule["name"] == "backlog" and config_rule["source"] == "config"
    assert config_rule["rule"]["ready_above"] == 0

    body = {"name": "adds-failing", "kind": "failures_in_a_row", "job": "add", "count": 3}
    made = api.call("POST", "/v1/alerts/rules", json={**body, "channels": ["ops-log"]})
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "api" and made.json()["rule"]["count"] == 3
    changed = api.call("PATCH", "/v1/alerts/rules/adds-failing", json={"count": 5})
    assert changed.status_code == 200 and changed.json()["rule"]["count"] == 5
    assert api.call("POST", "/v1/alerts/rules", json=body).status_code == 409

    # an organisation's rule is its own, watching its own jobs
    org = api.call("POST", "/v1/alerts/rules", who="org_a", json={**body, "name": "mine"})
    assert org.status_code == 201 and org.json()["org_id"] == "org_a"
    assert org.json()["rule"]["org"] == "org_a"
    mine = api.call("GET", "/v1/alerts/rules", who="org_a").json()
    assert [r["name"] for r in mine] == ["mine"]
    assert api.call("GET", "/v1/alerts/rules/mine", who="org_b").status_code == 404
    # ... sending only through the channels open to it, and not told the others' names
    cluster_channel = {**body, "name": "loud", "channels": ["ops-log"]}
    closed = api.call("POST", "/v1/alerts/rules", who="org_a", json=cluster_channel)
    assert closed.status_code == 400 and "not open to organisation 'org_a'" in closed.text
    assert "org-a-log" not in closed.text
    own = {**body, "name": "heard", "channels": ["org-a-log"]}
    assert api.call("POST", "/v1/alerts/rules", who="org_a", json=own).status_code == 201
    assert api.call("POST", "/v1/alerts/rules", who="org_b", json=own).status_code == 400
    backlog = {"name": "q", "kind": "queue_backlog", "ready_above": 1}
    assert api.call("POST", "/v1/alerts/rules", who="org_a", json=backlog).status_code == 403
    names = {r["name"] for r in api.call("GET", "/v1/alerts/rules").json()}
    assert names == {"backlog", "adds-failing", "mine", "heard"}

    # config rules change in the file; bad rules are refused with the reason
    assert api.call("DELETE", "/v1/alerts/rules/backlog").status_code == 403
    bad = api.call("POST", "/v1/alerts/rules", json={**body, "name": "x", "channels": ["nope"]})
    assert bad.status_code == 400 and "unknown channel 'nope'" in bad.json()["error"]["message"]
    no_count = {"name": "y", "kind": "failures_in_a_row", "job": "add"}
    missing = api.call("POST", "/v1/alerts/rules", json=no_count)
    assert missing.status_code == 422 and "count" in missing.json()["error"]["message"]
    assert api.call("POST", "/v1/alerts/rules", who="viewer", json=body).status_code == 403
    assert api.call("DELETE", "/v1/alerts/rules/adds-failing").status_code == 204
    assert api.call("GET", "/v1/alerts/rules/adds-failing").status_code == 404


def test_alerts_listed_acknowledged_and_silenced(api: Api, alerting: Path) -> None:
    alert_id = fire_backlog(api)
    [alert] = api.call("GET", "/v1/alerts?state=firing").json()
    assert alert["id"] == alert_id and alert["severity"] == "critical"
    assert alert["key"] == "queue:default" and alert["notifications"] == 1
    assert api.call("GET", "/v1/alerts?state=resolved").json() == []
    metrics = api.call("GET", "/metrics", who="viewer").text
    assert 'hourhand_alerts{severity="critical",state="firing"} 1.0' in metrics
    assert 'hourhand_alerts{severity="warning",state="firing"} 0.0' in metrics
    assert api.call("GET", "/v1/alerts?state=bogus").status_code == 422

    assert api.call("POST", f"/v1/alerts/{alert_id}/ack", who="viewer").status_code == 403
    acked = api.call("POST", f"/v1/alerts/{alert_id}/ack", who="operator").json()
    assert acked["acked_by"] == "key:operator" and acked["acked_at"] is not None
    silenced = api.call("POST", f"/v1/alerts/{alert_id}/silence", json={"seconds": 1800})
    assert silenced.status_code == 200 and silenced.json()["silenced_until"] is not None
    ended = api.call("POST", f"/v1/alerts/{alert_id}/silence", json={"seconds": None})
    assert ended.json()["silenced_until"] is None
    assert api.call("POST", f"/v1/alerts/{alert_id}/unack").json()["acked_at"] is None

    # a cluster alert is not an organisation's to see
    assert api.call("GET", f"/v1/alerts/{alert_id}", who="org_a").status_code == 404
    assert api.call("GET", "/v1/alerts", who="org_a").json() == []
    assert api.call("GET", "/v1/alerts/999999").status_code == 404
    actions = [e.action for e in api.hh.ops.audit.list(Actor.cli(), "alert", str(alert_id))]
    assert sorted(actions) == ["alert.ack", "alert.silence", "alert.silence", "alert.unack"]


def test_a_test_notification_through_the_api(api: Api, alerting: Path) -> None:
    sent = api.call("POST", "/v1/alerts/test", who="admin", json={"channel": "ops-log"})
    assert sent.status_code == 200 and sent.json()["state"] == "test"
    for who in ("operator", "org_a_admin"):  # the channels are the cluster's
        refused = api.call("POST", "/v1/alerts/test", who=who, json={"channel": "ops-log"})
        assert refused.status_code == 403
    unknown = api.call("POST", "/v1/alerts/test", json={"channel": "nope"})
    assert unknown.status_code == 404 and "no channel 'nope'" in unknown.json()["error"]["message"]


def test_the_alerts_commands(api: Api, alerting: Path, store_url: str) -> None:
    alert_id = fire_backlog(api)
    base = ("--database", store_url)
    listed = hourhand(*base, "alerts", "list", "--state", "firing", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [a["id"] for a in json.loads(listed.stdout)] == [alert_id]
    table = hourhand(*base, "alerts", "list")
    assert "queue default: 1 jobs ready" in table.stdout and "critical" in table.stdout
    acked = hourhand(*base, "alerts", "ack", str(alert_id))
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    silenced = hourhand(*base, "alerts", "silence", str(alert_id), "--for", "30m")
    assert silenced.returncode == 0 and "silenced until" in silenced.stdout
    shown = json.loads(hourhand(*base, "alerts", "show", str(alert_id), "--json").stdout)
    assert shown["acked_by"].startswith("cli:") and shown["silenced_until"]
    bad = hourhand(*base, "alerts", "silence", str(alert_id), "--for", "soon")
    assert bad.returncode == 2 and "expected a duration" in bad.stderr
    rules = hourhand(*base, "alerts", "rules", "--config", str(alerting), "--json")
    assert [r["name"] for r in json.loads(rules.stdout)] == ["backlog"]
    missing = hourhand(*base, "alerts", "show", "424242")
    assert missing.returncode != 0 and "no alert 424242" in missing.stderr
