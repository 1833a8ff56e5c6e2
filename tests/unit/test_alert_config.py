"""The alerting tables of hourhand.toml: the issue's example reads as written, and every
mistake is one message naming the file, the table and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hourhand.alert_config import EmailChannel, WebhookChannel, alerting_from
from hourhand.config import load_alerting, load_schedules
from hourhand.errors import ConfigurationError

EXAMPLE = """
[smtp]
host = "127.0.0.1"
port = 2525
sender = "hourhand@example.com"
password = "smtp-s3cret"

[channels.ops-hook]
kind = "webhook"
url = "http://127.0.0.1:9000/hook"
secret = "hook-s3cret"

[channels.ops-mail]
kind = "email"
to = ["ops@example.com"]

[alerts.reports-failing]
kind = "failures_in_a_row"
job = "reports:generate"
count = 3
severity = "critical"
channels = ["ops-hook", "ops-mail"]
"""


def read(text: str) -> object:
    return alerting_from(tomllib.loads(text), "hourhand.toml")


def test_the_issues_example_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(EXAMPLE)
    config = load_alerting(path)
    assert config.smtp is not None and (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2525)
    assert isinstance(config.channels["ops-hook"], WebhookChannel)
    assert isinstance(config.channels["ops-mail"], EmailChannel)
    rule = config.alerts["reports-failing"]
    assert (rule.kind, rule.job, rule.count, rule.severity) == (
        "failures_in_a_row",
        "reports:generate",
        3,
        "critical",
    )
    assert rule.channels == ["ops-hook", "ops-mail"]
    assert load_schedules(path) == []  # the alerting tables are known tables
    # secrets never print
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.model_dump())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("count = 3", "count = 0"), "[alerts.reports-failing]: 'count': "),
        (("count = 3", "cnt = 3"), "[alerts.reports-failing]: 'cnt': unknown key"),
        (("count = 3", ""), "a failures_in_a_row rule needs 'count'"),
        (('"ops-mail"]', '"ops-mial"]'), "unknown channel 'ops-mial'"),
        (('kind = "webhook"', 'kind = "pager"'), "[channels.ops-hook]: "),
        (('url = "http://127.0.0.1:9000/hook"', 'url = "ftp://x"'), "[channels.ops-hook]: 'url'"),
        (('to = ["ops@example.com"]', "to = []"), "[channels.ops-mail]: 'to'"),
        (('severity = "critical"', 'severity = "fatal"'), "'severity'"),
        (("port = 2525", "port = 70000"), "[smtp]: 'port'"),
        (('kind = "failures_in_a_row"', 'kind = "failure_rate"'), "needs 'rate'"),
    ],
)
def test_a_mistake_names_the_file_the_table_and_the_key(
    change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(ConfigurationError) as found:
        read(EXAMPLE.replace(old, new, 1))
    assert str(found.value).startswith("hourhand.toml: ")
    assert message in str(found.value)
    assert "s3cret" not in str(found.value)


def test_email_channels_need_smtp() -> None:
    text = "[channels.ops-hook]" + EXAMPLE.split("[channels.ops-hook]")[1]  # no [smtp]
    with pytest.raises(ConfigurationError, match=r"\[channels.ops-mail\] sends e-mail"):
        read(text)


@pytest.mark.parametrize(
    ("rule", "needs"),
    [
        ('kind = "long_running"', "'longer_than' or 'factor'"),
        ('kind = "missed_schedule"\ngrace = 60', "needs 'schedule'"),
        ('kind = "missed_schedule"\nschedule = "x"', "'grace' or 'no_success_for'"),
        ('kind = "queue_backlog"', "'ready_above' or 'oldest_ready_above'"),
        ('kind = "no_workers"', "needs 'for'"),
    ],
)
def test_each_rule_kind_asks_for_its_parameters(rule: str, needs: str) -> None:
    with pytest.raises(ConfigurationError, match=needs):
        read(f"[alerts.r]\n{rule}\n")


def test_every_rule_kind_reads() -> None:
    text = """
[alerts.a]
kind = "failure_rate"
rate = 10
window = 3600
min_runs = 20
[alerts.b]
kind = "long_running"
factor = 2
[alerts.c]
kind = "missed_schedule"
schedule = "budget-alerts"
no_success_for = 1800
[alerts.d]
kind = "queue_backlog"
ready_above = 1000
[alerts.e]
kind = "dead_letter"
[alerts.f]
kind = "no_workers"
for = 300
queue = "mail"
"""
    config = read(text)
    assert sorted(config.alerts) == ["a", "b", "c", "d", "e", "f"]  # type: ignore[attr-defined]
    assert config.alerts["f"].for_ == 300  # type: ignore[attr-defined]
