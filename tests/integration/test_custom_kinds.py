"""Custom kinds ([kinds.NAME] presets of the built-in ones) as job types like any other:
enqueued by name with their parameters checked, run by a worker against real servers on
both stores, listed with a JSON schema (ops, REST API, CLI), used by config and user
schedules; the built-in kinds themselves are for cluster admins through hh.ops."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from hourhand import Hourhand, InvalidArguments, JobState
from hourhand.errors import Forbidden
from hourhand.ops import Actor
from hourhand.ops.actor import Role
from tests.acceptance.test_cli import hourhand
from tests.conftest import WorkerThread
from tests.integration.test_builtin_http import Server
from tests.integration.test_channels import Mailbox, free_port

CONFIG = """
[smtp]
host = "127.0.0.1"
port = SMTP_PORT
sender = "hourhand@example.com"

[databases.reports]
url = "DATABASE_URL"

[kinds.refresh-tenant]
base = "hourhand.http"
description = "Ask a tenant's API to refresh"
queue = "webhooks"
max_attempts = 2
args = { method = "POST", url = "SERVER/tenants/{tenant}/refresh", \
headers = { Authorization = { secret = "API_TOKEN" } }, \
json = { reason = "{reason}", depth = "{depth}", note = "for {tenant}" } }

[kinds.refresh-tenant.params.tenant]
type = "string"
description = "The tenant's id"

[kinds.refresh-tenant.params.reason]
type = "string"
default = "scheduled"
choices = ["scheduled", "manual"]

[kinds.refresh-tenant.params.depth]
type = "integer"
default = 1

[kinds.count-jobs]
base = "hourhand.sql"
description = "How many jobs of a type there are"
args = { database = "reports", sql = "SELECT count(*) FROM hourhand_jobs WHERE name = NAMED" }
params.name = { type = "string" }

[kinds.welcome]
base = "hourhand.email"
args = { to = ["{email}"], subject = "Welcome, {{ name }}", \
text = "Hello {{ name }}, your plan is {{ plan }}." }
params.email = { type = "string", description = "Where to send it" }
params.name = { type = "string" }
params.plan = { type = "string", default = "free" }

[schedules.nightly-refresh]
job = "refresh-tenant"
cron = "0 3 * * *"
args = { tenant = "acme" }
"""


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def write_config(folder: Path, database: str, server: str, smtp_port: int) -> Path:
    named = ":name" if database.startswith("sqlite") else "%(name)s"
    text = (
        CONFIG.replace("SMTP_PORT", str(smtp_port))
        .replace("DATABASE_URL", database)
        .replace("SERVER", server)
        .replace("NAMED", named)
    )
    path = folder / "hourhand.toml"
    path.write_text(text)
    return path


@pytest.fixture
def configured(
    hh: Hourhand,
    store_url: str,
    tmp_path: Path,
    server: Server,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Hourhand:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "Bearer kinds")
    hh.load_config(write_config(tmp_path, store_url, server.url, mailbox[1]))
    return hh


def test_custom_kinds_are_enqueued_by_name_and_run_their_preset(
    configured: Hourhand,
    server: Server,
    mailbox: tuple[Mailbox, int],
    run_worker: Callable[..., WorkerThread],
) -> None:
    hh = configured
    refresh = hh.enqueue("refresh-tenant", {"tenant": "acme/1", "reason": "manual"})
    count = hh.enqueue("count-jobs", {"name": "refresh-tenant"})
    welcome = hh.enqueue("welcome", {"email": "ana@example.com", "name": "Ana"})
    assert hh.get_job(refresh).queue == "webhooks"  # the kind's own options
    assert hh.get_job(refresh).max_attempts == 2
    assert hh.get_job(refresh).args == {"tenant": "acme/1", "reason": "manual"}  # as given
    run_worker()
    done = {i: hh.wait(i, 15) for i in (refresh, count, welcome)}
    assert all(j.state == JobState.COMPLETED for j in done.values()), [
        j.error for j in done.values()
    ]
    [request] = server.requests
    assert request["path"] == "/tenants/acme%2F1/refresh"  # a value is encoded in the URL
    assert json.loads(request["body"]) == {"reason": "manual", "depth": 1, "note": "for acme/1"}
    echo = done[refresh].result["json"]
    assert echo["auth_sha256"] == hashlib.sha256(b"Bearer kinds").hexdigest()
    assert done[count].result["rows"] == [[1]] and done[count].result["database"] == "reports"
    box, _ = mailbox
    [(recipients, message)] = box.messages
    assert recipients == ["ana@example.com"] and message["Subject"] == "Welcome, Ana"
    assert "Hello Ana, your plan is free." in message.get_content()


def test_a_config_schedule_of_a_custom_kind_runs_it(
    configured: Hourhand, server: Server, run_worker: Callable[..., WorkerThread]
) -> None:
    hh = configured
    hh.sync_schedules()
    schedule = hh.schedules.find("nightly-refresh")
    assert schedule.job == "refresh-tenant" and schedule.args == {"tenant": "acme"}
    job = hh.ops.schedules.trigger(Actor.cli(), schedule.id)
    run_worker()
    assert hh.wait(job.id, 15).state == JobState.COMPLETED
    assert [r["path"] for r in server.requests] == ["/tenants/acme/refresh"]


@pytest.mark.parametrize(
    ("kind", "args", "message"),
    [
        ("refresh-tenant", {}, "missing a required argument: 'tenant'"),
        ("refresh-tenant", {"tenant": "a", "tenants": "b"}, "unexpected keyword argument"),
        ("refresh-tenant", {"tenant": 5}, "argument 'tenant': Input should be a valid string"),
        ("refresh-tenant", {"tenant": "a", "reason": "bored"}, "argument 'reason'"),
        ("refresh-tenant", {"tenant": "a", "depth": 1.5}, "argument 'depth'"),
        ("welcome", {"email": "not an address", "name": "x"}, "argument 'to'[0]"),
    ],
)
def test_bad_parameters_of_a_custom_kind_are_refused_at_enqueue(
    lite: Hourhand,
    tmp_path: Path,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    args: dict[str, Any],
    message: str,
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "x")
    lite.load_config(write_config(tmp_path, lite.database_url, server.url, free_port()))
    with pytest.raises(InvalidArguments) as refused:
        lite.enqueue(kind, args)
    assert message in str(refused.value)
    if kind == "welcome":  # a problem of the filled preset names the kind and its base
        assert str(refused.value).startswith("job 'welcome' (a preset of hourhand.email): ")


def test_a_secret_the_enqueuing_process_lacks_is_refused_and_one_the_worker_lacks_fails(
    lite: Hourhand,
    tmp_path: Path,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    lite_worker: Callable[..., WorkerThread],
) -> None:
    lite.load_config(write_config(tmp_path, lite.database_url, server.url, free_port()))
    with pytest.raises(InvalidArguments, match="secret 'API_TOKEN' is not set"):
        lite.enqueue("refresh-tenant", {"tenant": "a"})
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "x")
    job_id = lite.enqueue("refresh-tenant", {"tenant": "a"}, max_attempts=1)
    monkeypatch.delenv("HOURHAND_SECRET_API_TOKEN")
    lite_worker()
    job = lite.wait(job_id, 15)
    assert job.state == JobState.FAILED
    assert job.error == (
        "SecretNotSet: secret 'API_TOKEN' is not set (set HOURHAND_SECRET_API_TOKEN or add "
        "API_TOKEN to [secrets]) in this worker"
    )
    assert server.requests == []


def test_custom_kinds_are_listed_with_a_json_schema_of_their_parameters(
    lite: Hourhand, tmp_path: Path, server: Server
) -> None:
    config = write_config(tmp_path, lite.database_url, server.url, free_port())
    lite.load_config(config)
    types = {t.name: t for t in lite.ops.jobs.types(Actor.cli())}
    assert {"refresh-tenant", "count-jobs", "welcome", "hourhand.http"} <= set(types)
    refresh = types["refresh-tenant"]
    assert refresh.description == "Ask a tenant's API to refresh"
    assert refresh.queue == "webhooks" and refresh.admin_only is False
    assert types["hourhand.sql"].admin_only is True
    schema = refresh.schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["tenant"]
    assert schema["properties"]["tenant"] == {"type": "string", "description": "The tenant's id"}
    assert schema["properties"]["reason"]["enum"] == ["scheduled", "manual"]
    assert schema["properties"]["reason"]["default"] == "scheduled"
    assert schema["properties"]["depth"] == {"type": "integer", "default": 1}
    assert [p["name"] for p in refresh.params] == ["tenant", "reason", "depth"]
    assert refresh.params[0] == {
        "name": "tenant",
        "type": "str",
        "required": True,
        "description": "The tenant's id",
    }
    # the REST API lists the same
    _, key = lite.ops.keys.create(Actor.app("tests"), "reader", "viewer", None)
    with TestClient(lite.asgi_app()) as client:
        answer = client.get("/v1/job-types", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    listed = {t["name"]: t for t in answer.json()}
    assert listed["refresh-tenant"]["schema"] == schema
    assert listed["welcome"]["schema"]["required"] == ["email", "name"]
    assert listed["hourhand.http"]["admin_only"] is True
    # an organisation's key sees its kinds, not hourhand's own (never an organisation's)
    _, org_key = lite.ops.keys.create(Actor.app("tests"), "org reader", "viewer", "org_a")
    with TestClient(lite.asgi_app()) as client:
        org_answer = client.get("/v1/job-types", headers={"Authorization": f"Bearer {org_key}"})
    org_names = {t["name"] for t in org_answer.json()}
    assert "refresh-tenant" in org_names and not any(n.startswith("hourhand.") for n in org_names)
    # and so does the CLI, reading the config file without the app's code
    shown = hourhand("--database", lite.database_url, "jobs", "types", "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    assert "refresh-tenant" in shown.stdout and "[reason]" in shown.stdout
    as_json = hourhand(
        "--database", lite.database_url, "jobs", "types", "--config", str(config), "--json"
    )
    by_name = {t["name"]: t for t in json.loads(as_json.stdout)}
    assert by_name["count-jobs"]["schema"]["required"] == ["name"]


def test_user_schedules_use_custom_kinds_and_only_cluster_admins_the_built_in_ones(
    lite: Hourhand, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "x")
    lite.load_config(write_config(tmp_path, lite.database_url, server.url, free_port()))
    org_operator = Actor("key", "acme-ops", Role.OPERATOR, org_id="acme")
    org_admin = Actor("key", "acme-admin", Role.ADMIN, org_id="acme")
    made = lite.ops.schedules.create(
        org_operator, "acme-refresh", "refresh-tenant", "*/5 * * * *", args={"tenant": "acme"}
    )
    assert made.org_id == "acme" and made.job == "refresh-tenant"
    enqueued = lite.ops.jobs.enqueue(org_operator, "refresh-tenant", {"tenant": "acme"})
    assert enqueued.job.org_id == "acme"
    with pytest.raises(InvalidArguments, match="argument 'tenant'"):
        lite.ops.schedules.create(
            org_operator, "acme-bad", "refresh-tenant", "@daily", args={"tenant": 1}
        )
    for actor in (org_operator, org_admin):
        with pytest.raises(Forbidden, match=r"hourhand\.http jobs needs a cluster admin"):
            lite.ops.schedules.create(
                actor, "raw", "hourhand.http", "@daily", args={"url": "http://x"}
            )
        with pytest.raises(Forbidden, match=r"hourhand\.sql jobs needs a cluster admin"):
            lite.ops.jobs.enqueue(actor, "hourhand.sql", {"sql": "SELECT 1"})
    with pytest.raises(Forbidden, match="cluster admin"):  # nor turn one into a raw kind
        lite.ops.schedules.update(org_admin, made.id, job="hourhand.http", args={"url": "http://x"})
    admin = Actor.cli()
    raw = lite.ops.schedules.create(
        admin, "raw", "hourhand.sql", "@daily", args={"sql": "SELECT 1"}
    )
    assert raw.job == "hourhand.sql"
    assert lite.ops.jobs.enqueue(admin, "hourhand.sql", {"sql": "SELECT 1"}).created


def test_a_job_whose_kind_changed_since_it_was_enqueued_fails_at_once(
    lite: Hourhand,
    tmp_path: Path,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    lite_worker: Callable[..., WorkerThread],
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "x")
    config = write_config(tmp_path, lite.database_url, server.url, free_port())
    lite.load_config(config)
    job_id = lite.enqueue("refresh-tenant", {"tenant": "acme"})
    config.write_text(  # the kind now requires a region, which the job does not have
        config.read_text()
        .replace(
            "[kinds.refresh-tenant.params.depth]",
            '[kinds.refresh-tenant.params.region]\ntype = "string"\n\n'
            "[kinds.refresh-tenant.params.depth]",
        )
        .replace("/tenants/{tenant}/", "/{region}/tenants/{tenant}/")
        .replace('args = { tenant = "acme" }', 'args = { tenant = "acme", region = "eu" }')
    )
    lite.load_config(config)
    lite_worker()
    job = lite.wait(job_id, 15)
    assert job.state == JobState.FAILED and job.attempt == 1
    assert job.error == (
        "DoNotRetry: the kind 'refresh-tenant' changed: its parameters no longer fit "
        "('region' missing)"
    )
    assert server.requests == []


def test_through_the_rest_api_an_organisations_key_schedules_a_custom_kind_not_a_raw_one(
    lite: Hourhand, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "x")
    lite.load_config(write_config(tmp_path, lite.database_url, server.url, free_port()))
    _, key = lite.ops.keys.create(Actor.app("tests"), "acme-ops", "operator", "acme")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(lite.asgi_app()) as client:
        made = client.post(
            "/v1/schedules",
            headers=auth,
            json={"name": "n", "job": "refresh-tenant", "cron": "@daily", "args": {"tenant": "a"}},
        )
        raw = client.post(
            "/v1/jobs", headers=auth, json={"type": "hourhand.http", "args": {"url": "http://x"}}
        )
        bad = client.post(
            "/v1/jobs", headers=auth, json={"type": "refresh-tenant", "args": {"tenant": 1}}
        )
    assert made.status_code == 201, made.text
    assert made.json()["org_id"] == "acme" and made.json()["job"] == "refresh-tenant"
    assert raw.status_code == 403 and raw.json()["error"]["code"] == "forbidden"
    assert "needs a cluster admin" in raw.json()["error"]["message"]
    assert bad.status_code == 400, bad.text
    assert "argument 'tenant'" in bad.json()["error"]["message"]
