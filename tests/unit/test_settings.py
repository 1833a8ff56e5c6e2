"""Settings from hourhand.toml and HOURHAND_* variables (settings.py): a variable overrides
the file key by key, a table may come from variables alone, and every bad key is one line
naming the key and the file and table, or the variable. No database is opened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourhand import Hourhand
from hourhand.errors import ConfigurationError
from hourhand.retention import RETENTION, policy_rules
from hourhand.settings import load_settings

FILE = """
[smtp]
host = "mail.example.com"
port = 25
sender = "hourhand@example.com"

[channels.ops-mail]
kind = "email"
to = ["ops@example.com"]

[retention]
completed_days = 7
failed_days = "never"
cancelled_days = 0.5

[retention.queues.reports]
completed_days = 1
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("HOURHAND_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "hourhand.toml"
    path.write_text(FILE)
    return path


def problems(path: Path | None) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(path)
    return str(raised.value).splitlines()


def test_the_file_reads_and_its_policy_becomes_rules(config: Path) -> None:
    settings = load_settings(config)
    assert settings.smtp is not None and settings.smtp.host == "mail.example.com"
    retention = settings.retention
    assert retention is not None and retention.enabled
    assert (retention.completed_days, retention.failed_days, retention.cancelled_days) == (
        7,
        None,
        0.5,
    )
    assert (retention.alerts_days, retention.batch_size, retention.pause) == (90, 1000, 0.1)
    assert retention.days("completed", "reports") == 1
    assert retention.days("cancelled", "reports") == 0.5  # not set there: the table's
    rules = [(r.states, r.queue, r.except_queues, r.older_than) for r in policy_rules(retention)]
    assert rules == [
        (("completed",), None, ("reports",), 7 * 86400),
        (("completed",), "reports", (), 86400),
        (("cancelled",), None, (), 43200),  # failed: "never"
    ]
    assert settings.from_env == frozenset()


def test_a_variable_overrides_the_file_key_by_key(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOURHAND_SMTP_PORT", "2525")
    monkeypatch.setenv("HOURHAND_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("HOURHAND_SMTP_TLS", "starttls")
    monkeypatch.setenv("HOURHAND_RETENTION_COMPLETED_DAYS", "3")
    monkeypatch.setenv("hourhand_retention_failed_days", "60")  # any case
    monkeypatch.setenv("HOURHAND_RETENTION_QUEUES", '{"mail": {"completed_days": "never"}}')
    settings = load_settings(config)
    smtp = settings.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls) == ("mail.example.com", 2525, "starttls")
    assert smtp.password is not None and smtp.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.summary())
    retention = settings.retention
    assert retention is not None
    assert (retention.completed_days, retention.failed_days) == (3, 60)
    assert retention.days("completed", "reports") == 1  # the file's queue table stays
    assert retention.days("completed", "mail") is None  # and the variable's is added
    assert "HOURHAND_SMTP_PASSWORD" in settings.from_env


def test_variables_alone_make_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(None).smtp is None and load_settings(None).retention is None
    monkeypatch.setenv("HOURHAND_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HOURHAND_SMTP_SENDER", "hh@example.com")
    monkeypatch.setenv("HOURHAND_RETENTION_ENABLED", "false")
    monkeypatch.setenv("HOURHAND_DATABASE", "sqlite:///env.db")
    settings = load_settings(None)
    assert settings.smtp is not None and settings.smtp.port == 25
    assert settings.retention is not None and not settings.retention.enabled
    assert settings.database == "sqlite:///env.db"


def test_every_bad_key_is_one_line_naming_the_key_and_where_it_is(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(
        FILE.replace("port = 25", "port = 70000")
        .replace("completed_days = 7", "completed_days = -7")
        .replace("cancelled_days = 0.5", "cancelled_days = 'forever'\nbatch = 10")
        .replace('to = ["ops@example.com"]', "to = []")
    )
    monkeypatch.setenv("HOURHAND_RETENTION_PAUSE", "a while")
    monkeypatch.setenv("HOURHAND_SMTP_HOTS", "typo")
    monkeypatch.setenv("HOURHAND_SMTP_PASSWORD", "s3cret")
    found = problems(config)
    assert sorted(found) == sorted(
        [
            f"{config}: [smtp]: 'port': Input should be less than or equal to 65535",
            f"{config}: [retention]: 'completed_days': Input should be greater than 0",
            f"{config}: [retention]: 'cancelled_days': expected a number of days or \"never\", "
            "got 'forever'",
            f"{config}: [retention]: 'batch': unknown key",
            "HOURHAND_RETENTION_PAUSE: Input should be a valid number, unable to parse string "
            "as a number",
            "HOURHAND_SMTP_HOTS: unknown key",
            f"{config}: [channels.ops-mail]: 'to': List should have at least 1 item after "
            "validation, not 0",
        ]
    )
    assert not any("s3cret" in line for line in found)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[retention]\nschedule = "0 3 * *"', "[retention]: 'schedule': bad cron expression"),
        ('[retention]\ntz = "CEST"', "[retention]: 'tz': unknown time zone 'CEST'"),
        ("[retention]\nbatch_size = 0", "[retention]: 'batch_size': Input should be greater"),
        ("[retention.queues.x]\nfailed_dys = 1", "[retention.queues.x]: 'failed_dys': unknown"),
        ('database = "mysql://me:s3cret@db/x"', "'database': bad database URL"),
        ('[smtp]\nsender = "a@b.c"', "[smtp]: 'host': required (or set HOURHAND_SMTP_HOST)"),
        ("[retentoin]\ncompleted_days = 1", "unknown table [retentoin]"),
    ],
)
def test_a_bad_table_names_its_key(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(table + "\n")
    [line] = problems(path)
    assert line.startswith(f"{path}: ") and message in line
    assert "s3cret" not in line


def test_a_variable_that_takes_json_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOURHAND_RETENTION_QUEUES", "reports=1")
    [line] = problems(None)
    assert line.startswith("HOURHAND_RETENTION_QUEUES: not valid JSON")
    monkeypatch.delenv("HOURHAND_RETENTION_QUEUES")
    monkeypatch.setenv("HOURHAND_SMTP_PASSWORD", "s3cret")  # a table without its host
    assert problems(None) == [
        "[smtp]: 'host': required: set HOURHAND_SMTP_HOST (or the key in a config file)",
        "[smtp]: 'sender': required: set HOURHAND_SMTP_SENDER (or the key in a config file)",
    ]


def test_the_app_resolves_its_settings_in_one_place(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Hourhand("sqlite:///given.db")
    assert app.retention() is None and app.alerting.smtp is None  # the variables: none
    app.load_settings(config)
    assert app.alerting.smtp is not None and app.settings.path == config
    assert app.retention() is not None
    assert [s.name for s in app.system_schedules()] == [RETENTION]

    config.write_text('database = "sqlite:///from-file.db"\n' + FILE)
    app.load_settings(config)
    assert app.database_url == "sqlite:///given.db"  # an argument wins over the file
    bare = Hourhand()
    bare.load_settings(config)
    assert (bare.database_url, bare.database_origin) == ("sqlite:///from-file.db", str(config))
    monkeypatch.setenv("HOURHAND_DATABASE", "sqlite:///env.db")
    from_env = Hourhand()
    from_env.load_settings(config)
    assert from_env.database_url == "sqlite:///env.db"  # a variable wins over the file

    monkeypatch.setenv("HOURHAND_SMTP_PORT", "x")
    fresh = Hourhand()
    with pytest.raises(ConfigurationError, match=r"(?m)^HOURHAND_SMTP_PORT: Input should be"):
        fresh.alerting  # noqa: B018  # a bad variable is named when the settings are read


def test_channels_and_alert_rules_from_json_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(FILE)
    hook = {"kind": "webhook", "url": "https://hooks.example.com/x", "secret": "s3cret"}
    monkeypatch.setenv("HOURHAND_CHANNELS", f'{{"ops-hook": {json.dumps(hook)}}}')
    rule = {"kind": "dead_letter", "channels": ["ops-hook", "ops-mail"]}
    monkeypatch.setenv("HOURHAND_ALERTS", json.dumps({"dead": rule}))
    settings = load_settings(path)
    channels = settings.alerting.channels
    assert sorted(channels) == ["ops-hook", "ops-mail"]  # the file's, and the variable's
    assert channels["ops-hook"].secret.get_secret_value() == "s3cret"  # type: ignore[union-attr]
    assert "s3cret" not in repr(settings)
    assert settings.alerting.alerts["dead"].channels == ["ops-hook", "ops-mail"]
    assert {"HOURHAND_CHANNELS", "HOURHAND_ALERTS"} <= settings.from_env


def test_a_bad_channels_variable_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOURHAND_CHANNELS", "not json")
    with pytest.raises(ConfigurationError, match=r"^HOURHAND_CHANNELS: not a JSON object"):
        load_settings(None)
    monkeypatch.setenv("HOURHAND_CHANNELS", '{"hook": {"kind": "webhook", "url": "ftp://x"}}')
    with pytest.raises(ConfigurationError) as raised:
        load_settings(None)
    assert "with HOURHAND_CHANNELS" in str(raised.value)
    assert "[channels.hook]: 'url'" in str(raised.value)


def test_a_channels_url_and_signing_key_may_be_secrets_kept_out_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(
        '[secrets]\nOPS_HOOK_KEY = "key-from-the-file"\n\n'
        '[channels.ops-hook]\nkind = "webhook"\n'
        'url = { secret = "OPS_HOOK_URL" }\nsecret = { secret = "OPS_HOOK_KEY" }\n'
    )
    monkeypatch.setenv("HOURHAND_SECRET_OPS_HOOK_URL", "https://hooks.example.com/T0/tok-1")
    channel = load_settings(path).alerting.channels["ops-hook"]
    assert channel.url == "https://hooks.example.com/T0/tok-1"  # the variable's
    assert channel.secret is not None
    assert channel.secret.get_secret_value() == "key-from-the-file"  # [secrets]
    monkeypatch.delenv("HOURHAND_SECRET_OPS_HOOK_URL")
    with pytest.raises(ConfigurationError) as missing:
        load_settings(path)
    assert (
        "channels.ops-hook.url: secret 'OPS_HOOK_URL' is not set (set "
        "HOURHAND_SECRET_OPS_HOOK_URL or add OPS_HOOK_URL to [secrets])"
    ) in str(missing.value)
