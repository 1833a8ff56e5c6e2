"""The dashboard's alerts on both stores: open and past alerts, acknowledge and silence
(checked in the database), rules and channels without a secret on any page, the test
notification for cluster admins; roles, CSRF and organisation scope."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from hourhand import Hourhand
from hourhand.ops import Actor
from hourhand.web.dashboard.pages import PAGES
from tests.apps.web_app import define
from tests.web.dashboard_client import Browser, make_users

APP = Actor.app("tests")
SECRETS = ("hook-token-5150", "signing-secret-77", "smtp-password-42", "closed-token-9")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def config(port: int) -> str:
    return f"""
[smtp]
host = "127.0.0.1"
port = {port}
sender = "hourhand@example.com"
username = "hh"
password = "smtp-password-42"

[channels.ops-log]
kind = "log"

[channels.slack]
kind = "webhook"
format = "slack"
url = "https://hooks.example.com/services/T0/B0/hook-token-5150?x=1"
secret = "signing-secret-77"

[channels.down]
kind = "webhook"
url = "http://127.0.0.1:{port}/closed-token-9"

[channels.mail]
kind = "email"
to = ["ops@example.com"]

[alerts.backlog]
kind = "queue_backlog"
queue = "default"
ready_above = 0
severity = "critical"
channels = ["ops-log", "slack"]
"""


@pytest.fixture
def hh(store_url: str, tmp_path: Path) -> Iterator[Hourhand]:
    app = define(Hourhand(store_url))
    path = tmp_path / "hourhand.toml"
    path.write_text(config(closed_port()))
    app.load_alerting(path)
    make_users(app)
    yield app
    app.close()


@pytest.fixture
def browser(hh: Hourhand) -> Iterator[Callable[[str], Browser]]:
    made: list[Browser] = []

    def sign_in(name: str) -> Browser:
        made.append(Browser(hh, name))
        return made[-1]

    yield sign_in
    for each in made:
        each.close()


def fire_backlog(hh: Hourhand) -> int:
    """A job waits in the default queue: the backlog rule fires; the alert's id."""
    hh.enqueue("add", {"a": 1, "b": 2})
    [alert_id] = hh.alert_engine().evaluate(hh.store.now()).fired
    return alert_id


def test_acknowledge_an_alert_and_take_it_back(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    alert_id = fire_backlog(hh)
    user = browser("operator")
    page = user.get("/alerts")
    assert page.status_code == 200
    assert "backlog" in page.text and "firing" in page.text and "queue:default" in page.text
    assert f"/alerts/{alert_id}/ack" in page.text
    acked = user.post(f"/alerts/{alert_id}/ack")
    assert acked.status_code == 303
    alert = hh.ops.alerts.get(APP, alert_id)
    assert alert.acked_at is not None and alert.acked_by == "user:operator"
    assert "Unacknowledge" in user.get("/alerts").text
    assert user.post(f"/alerts/{alert_id}/ack", {"undo": "1"}).status_code == 303
    assert hh.ops.alerts.get(APP, alert_id).acked_at is None


def test_a_page_of_alerts_before_no_possible_id_is_a_clear_400(
    browser: Callable[[str], Browser],
) -> None:
    user = browser("viewer")
    for page in ("0", "-1", str(2**80)):
        answer = user.get(f"/alerts?before={page}")
        assert answer.status_code == 400 and "before_id must be an integer" in answer.text


def test_silence_an_alert_for_four_hours_then_end_it(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    alert_id = fire_backlog(hh)
    user = browser("operator")
    assert user.post(f"/alerts/{alert_id}/silence", {"for": "4h"}).status_code == 303
    until = hh.ops.alerts.get(APP, alert_id).silenced_until
    assert until is not None
    assert abs(until - (hh.store.now() + timedelta(hours=4))) < timedelta(minutes=1)
    assert "End silence" in user.get("/alerts").text
    assert user.post(f"/alerts/{alert_id}/silence", {"for": "forever"}).status_code == 400
    assert user.post(f"/alerts/{alert_id}/silence", {"for": "end"}).status_code == 303
    assert hh.ops.alerts.get(APP, alert_id).silenced_until is None


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    alert_id = fire_backlog(hh)
    viewer = browser("viewer")
    page = viewer.get("/alerts").text
    assert "backlog" in page
    assert "/ack" not in page and "/silence" not in page and "Send a test" not in page
    assert viewer.post(f"/alerts/{alert_id}/ack").status_code == 403
    assert viewer.post(f"/alerts/{alert_id}/silence", {"for": "1d"}).status_code == 403
    operator = browser("operator")
    assert operator.post(f"/alerts/{alert_id}/ack", {"csrf": None}).status_code == 403
    alert = hh.ops.alerts.get(APP, alert_id)
    assert alert.acked_at is None and alert.silenced_until is None


def test_an_organisation_sees_neither_the_clusters_alerts_nor_its_channels(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    alert_id = fire_backlog(hh)
    org = browser("org_a")
    page = org.get("/alerts").text
    assert "queue:default" not in page and "hooks.example.com" not in page
    assert org.post(f"/alerts/{alert_id}/ack").status_code == 404
    assert hh.ops.alerts.get(APP, alert_id).acked_at is None


def test_rules_and_channels_are_shown_and_no_page_holds_a_secret(
    hh: Hourhand, browser: Callable[[str], Browser]
) -> None:
    alert_id = fire_backlog(hh)
    job_id = hh.enqueue("add", {"a": 3, "b": 4}).id
    schedule = hh.ops.schedules.create(APP, "nightly", "add", "0 3 * * *", args={"a": 1, "b": 2})
    admin = browser("admin")
    page = admin.get("/alerts").text
    assert "queue_backlog" in page and "ready_above=0" in page  # the rule, its condition
    assert "https://hooks.example.com" in page and "ops@example.com" in page
    assert "signed (secret not shown)" in page and "Send a test" in page
    ids = {"job_id": job_id, "schedule_id": schedule.id, "alert_id": alert_id}
    for each in PAGES:
        text = admin.get(each.fill(**ids)).text
        for secret in SECRETS:
            assert secret not in text, f"{secret} on {each.path}"
        assert "/services/T0" not in text


def test_send_a_test_through_a_channel(hh: Hourhand, browser: Callable[[str], Browser]) -> None:
    admin = browser("admin")
    sent = admin.post("/alerts/test", {"channel": "ops-log"})
    assert sent.status_code == 303
    assert "went through ops-log" in admin.get("/alerts").text
    [entry] = hh.ops.audit.list(APP, action="channel.test")
    assert entry.target_id == "ops-log" and entry.actor == "admin"
    failed = admin.post("/alerts/test", {"channel": "down"}, follow_redirects=True)
    assert "test through down failed" in failed.text
    assert "closed-token-9" not in failed.text
    assert browser("operator").post("/alerts/test", {"channel": "ops-log"}).status_code == 403
    assert browser("org_a").post("/alerts/test", {"channel": "ops-log"}).status_code == 403
    assert len(hh.ops.audit.list(APP, action="channel.test")) == 1
