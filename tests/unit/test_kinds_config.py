"""The built-in kinds' tables of hourhand.toml ([databases.*], [secrets], [email],
[kinds.*]): every mistake is one ConfigurationError naming the file, the table and the
key, and a file read again replaces the custom kinds of the one before. No database."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourhand import Hourhand, JobContext, Retry
from hourhand.errors import ConfigurationError

SMTP = '[smtp]\nhost = "127.0.0.1"\nsender = "h@example.com"\n\n'
PING = (
    '[kinds.ping]\nbase = "hourhand.http"\nargs = { url = "https://example.com/{who}" }\n'
    'params.who = { type = "string" }\n'
)


@pytest.fixture
def app(tmp_path: Path) -> Hourhand:
    return Hourhand(f"sqlite:///{tmp_path}/never-opened.db")


def load(app: Hourhand, tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hourhand.toml"
    path.write_text(text)
    app.load_config(path)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[kinds.x]\nbase = "hourhand.ftp"\n', "[kinds.x]: 'base': Input should be"),
        ('[kinds.x]\nbase = "hourhand.http"\nurl = "http://x"\n', "[kinds.x]: 'url': unknown key"),
        (
            '[kinds.x]\nbase = "hourhand.sql"\nargs = { sql = "DELETE FROM t WHERE id = {id}" }\n'
            'params.id = { type = "integer" }\n',
            "[kinds.x]: 'args.sql': {id} cannot be replaced there: pass values as bind "
            "parameters (%(id)s on PostgreSQL, :id on SQLite)",
        ),
        (
            SMTP + '[kinds.x]\nbase = "hourhand.email"\n'
            'args = { to = ["a@example.com"], subject = "Hi {name}", text = "t" }\n'
            'params.name = { type = "string" }\n',
            "'args.subject': {name} cannot be replaced there: parameters are template "
            "variables: write {{ name }}",
        ),
        (
            PING + 'params.extra = { type = "string" }\n',
            "[kinds.ping]: parameter 'extra' is not used in 'args' (write {extra} there)",
        ),
        (
            PING.replace("{who}", "{whom}"),
            "[kinds.ping]: 'args.url': {whom} is not a parameter (parameters: who)",
        ),
        (
            '[kinds.x]\nbase = "hourhand.http"\nargs = { methd = "POST", url = "http://x" }\n',
            "[kinds.x]: 'args': got an unexpected keyword argument 'methd' (the arguments "
            "of hourhand.http)",
        ),
        (
            '[kinds.x]\nbase = "hourhand.http"\nargs = { method = "POST" }\n',
            "'args': missing a required argument: 'url'",
        ),
        (
            '[kinds.x]\nbase = "hourhand.http"\nargs = { url = "http://x", timeout = "5" }\n',
            "[kinds.x]: 'args': argument 'timeout'",
        ),
        (
            '[kinds.x]\nbase = "hourhand.http"\nargs = { url = "http://x", json = 1, '
            'body = "b" }\n',
            "[kinds.x]: 'args': give a JSON body (json) or a text body (body), not both",
        ),
        (
            PING + 'params.n = { type = "integer", default = "a" }\n',
            "[kinds.ping]: 'params.n': the default 'a' is not of type integer",
        ),
        (
            PING.replace('type = "string" }', 'type = "text" }'),
            "[kinds.ping]: 'params.who.type': Input should be",
        ),
        (
            '[kinds.x]\nbase = "hourhand.sql"\nargs = { database = "nope", sql = "SELECT 1" }\n',
            "[kinds.x]: 'args.database': unknown database 'nope' (databases: default)",
        ),
        (
            '[kinds.x]\nbase = "hourhand.email"\nargs = { to = ["a@example.com"], '
            'subject = "s", text = "t" }\n',
            "[kinds.x]: it sends e-mail: add an [smtp] table",
        ),
        (
            '[kinds."hourhand.mine"]\nbase = "hourhand.http"\nargs = { url = "http://x" }\n',
            "names starting hourhand. are the built-in ones",
        ),
        ('[databases.r]\nurl = "mysql://x/y"\n', "[databases.r]: 'url': bad database URL"),
        ('[databases.r]\nurl = { secret = "a b" }\n', "[databases.r]: 'url.secret':"),
        ('[databases.r]\nurl = "sqlite:///r.db"\nreadonly = true\n', "'readonly': unknown key"),
        ('[secrets]\n"bad name" = "x"\n', "[secrets]: 'bad name':"),
        ('[email]\ntemplates = "nowhere"\n', "[email]: 'templates':"),
        (
            '[kinds.x]\nbase = "hourhand.http"\nrate_limit = "lots"\nargs = { url = "http://x" }\n',
            "[kinds.x]: job 'x': rate_limit",
        ),
    ],
)
def test_a_mistake_names_the_file_the_table_and_the_key(
    app: Hourhand, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(app, tmp_path, text)
    assert str(raised.value).startswith(f"{tmp_path / 'hourhand.toml'}: ")
    assert message in str(raised.value)
    assert "ping" not in app.registry and "x" not in app.registry  # nothing was changed


def test_a_kind_may_not_take_the_name_of_a_job_type_of_the_code(
    app: Hourhand, tmp_path: Path
) -> None:
    @app.job("ping")
    def ping(ctx: JobContext) -> None: ...

    with pytest.raises(ConfigurationError, match=r"\[kinds.ping\]: a job type 'ping' is already"):
        load(app, tmp_path, PING)


def test_a_config_read_again_replaces_the_kinds_and_settings_of_the_one_before(
    app: Hourhand, tmp_path: Path
) -> None:
    load(app, tmp_path, PING + '\n[databases.r]\nurl = "sqlite:///r.db"\n')
    assert app.custom_kinds == {"ping"} and "ping" in app.registry
    assert list(app.builtin.databases) == ["r"]
    load(app, tmp_path, PING.replace("ping", "pong"))
    assert app.custom_kinds == {"pong"} and "ping" not in app.registry
    assert app.builtin.databases == {}
    bad = tmp_path / "bad.toml"  # a schedule that does not fit: nothing changes
    bad.write_text(PING + '[schedules.s]\njob = "ping"\ncron = "@daily"\nargs = { who = 1 }\n')
    with pytest.raises(ConfigurationError, match=r"\[schedules.s\]: job 'ping': argument 'who'"):
        app.load_config(bad)
    assert app.custom_kinds == {"pong"} and "pong" in app.registry


def test_a_schedule_of_a_built_in_kind_is_checked_against_the_files_settings(
    app: Hourhand, tmp_path: Path
) -> None:
    text = '[schedules.s]\njob = "hourhand.sql"\ncron = "@daily"\nargs = { database = "r", '
    text += 'sql = "SELECT 1" }\n'
    with pytest.raises(ConfigurationError, match=r"\[schedules.s\]: .*unknown database 'r'"):
        load(app, tmp_path, text)
    assert app.builtin.databases == {}  # the settings of the refused file are not kept
    load(app, tmp_path, text + '[databases.r]\nurl = "sqlite:///r.db"\n')
    assert sorted(app.config_schedules) == ["s"]


def test_secrets_come_from_the_environment_first_then_the_file(
    app: Hourhand, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(app, tmp_path, '[secrets]\nAPI_TOKEN = "from-file"\nOther = "o"\n')
    assert app.builtin.secret("API_TOKEN") == "from-file"
    assert "from-file" not in repr(app.builtin)  # a secret never prints
    monkeypatch.setenv("HOURHAND_SECRET_API_TOKEN", "from-env")
    monkeypatch.setenv("HOURHAND_SECRET_OTHER", "")  # empty: not set
    assert app.builtin.secret("API_TOKEN") == "from-env"
    assert app.builtin.secret("Other") == "o" and app.builtin.secret("missing") is None


def test_a_kind_may_retry_after_fixed_delays_instead_of_its_base_kinds_backoff(
    app: Hourhand, tmp_path: Path
) -> None:
    load(app, tmp_path, PING + "max_attempts = 4\nretry_delays = [30]\n")
    spec = app.registry["ping"]
    assert spec.max_attempts == 4
    assert spec.retry == Retry.fixed([30])
    assert [spec.retry.delay(n) for n in (1, 2, 3)] == [30, 30, 30]
    load(app, tmp_path, PING)  # without: the base kind's policy
    assert app.registry["ping"].retry == app.registry["hourhand.http"].retry
    with pytest.raises(ConfigurationError, match=r"\[kinds.ping\]: .*retry_delays"):
        load(app, tmp_path, PING + "retry_delays = []\n")
    with pytest.raises(ConfigurationError, match=r"\[kinds.ping\]: .*Retry.fixed delay"):
        load(app, tmp_path, PING + "retry_delays = [-1]\n")
