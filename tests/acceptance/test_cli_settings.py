"""Settings from hourhand.toml and HOURHAND_* variables through the CLI: ``config check``
names every bad key and where it came from, ``prune`` by the retention policy, and the
database a config file names."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.test_cli import hourhand

POLICY = """
[smtp]
host = "127.0.0.1"
sender = "hourhand@example.com"

[retention]
completed_days = 7
failed_days = "never"

[retention.queues.reports]
completed_days = 1
"""


def test_config_check_reports_each_bad_key_of_the_file_and_the_variables(tmp_path: Path) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(POLICY)
    ok = hourhand("config", "check", str(path), HOURHAND_SMTP_PASSWORD="s3cret")
    assert ok.returncode == 0, ok.stderr
    assert "retention: completed 7 d, failed kept, cancelled 30 d (+1 queue)" in ok.stdout
    assert "set by variables: HOURHAND_SMTP_PASSWORD" in ok.stdout
    assert "s3cret" not in ok.stdout

    path.write_text(POLICY.replace("completed_days = 1", "completed_dayz = 1"))
    bad = hourhand(
        "config",
        "check",
        str(path),
        HOURHAND_SMTP_PORT="twenty-five",
        HOURHAND_RETENTION_CANCELLED_DAYS="0",
        HOURHAND_SMTP_PASSWORD="s3cret",
    )
    assert bad.returncode == 2
    lines = bad.stderr.removeprefix("error: ").splitlines()
    assert sorted(lines) == sorted(
        [
            "HOURHAND_RETENTION_CANCELLED_DAYS: Input should be greater than 0",
            "HOURHAND_SMTP_PORT: Input should be a valid integer, unable to parse string as an "
            "integer",
            f"{path}: [retention.queues.reports]: 'completed_dayz': unknown key",
        ]
    )
    assert "s3cret" not in bad.stderr and "Traceback" not in bad.stderr

    queues = '{"mail": {"failed_days": 2}}'  # merged into the file's [retention.queues]
    merged = hourhand("config", "check", str(path), HOURHAND_RETENTION_QUEUES=queues)
    assert merged.returncode == 2  # the file's mistake is the file's
    assert merged.stderr == f"error: {path}: [retention.queues.reports]: 'completed_dayz': " + (
        "unknown key\n"
    )
    path.write_text(POLICY)
    as_json = hourhand("config", "check", str(path), "--json", HOURHAND_RETENTION_QUEUES=queues)
    assert as_json.returncode == 0, as_json.stderr
    retention = json.loads(as_json.stdout)["retention"]
    assert retention["queues"] == {"mail": {"failed_days": 2.0}, "reports": {"completed_days": 1.0}}
    assert (retention["failed_days"], retention["schedule"]) == (None, "15 * * * *")


def test_prune_by_the_retention_policy(db: str, tmp_path: Path) -> None:
    path = tmp_path / "hourhand.toml"
    path.write_text(POLICY)
    dry = hourhand("--database", db, "prune", "--dry-run", "--config", str(path))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "the retention policy would delete 0 jobs:",
        "  completed in every queue but reports, finished over 7 days ago: 0",
        "  completed in queue reports, finished over 1 day ago: 0",
        "  cancelled in every queue, finished over 30 days ago: 0",
    ]
    done = hourhand("--database", db, "prune", "--json", HOURHAND_RETENTION_COMPLETED_DAYS="3")
    assert done.returncode == 0, done.stderr  # a policy from the variables alone
    report = json.loads(done.stdout)
    assert (report["deleted"], report["dry_run"]) == (0, False)
    assert [r["older_than_days"] for r in report["rules"]] == [3, 30, 30]
    none = hourhand("--database", db, "prune", "--dry-run")
    assert none.returncode == 2 and "no retention policy" in none.stderr
    mixed = hourhand("--database", db, "prune", "--state", "failed", "--config", str(path))
    assert mixed.returncode == 2 and "--state needs --older-than" in mixed.stderr


def test_every_command_uses_the_database_the_config_file_names(tmp_path: Path) -> None:
    (tmp_path / "hourhand.toml").write_text('database = "sqlite:///from-config.db"\n')
    made = hourhand("migrate", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "from-config.db").exists()
    info = json.loads(hourhand("info", "--json", cwd=tmp_path).stdout)
    assert info["database"]["from"] == "hourhand.toml"
    assert info["database"]["path"] == str(tmp_path / "from-config.db")
    override = hourhand("info", "--json", cwd=tmp_path, HOURHAND_DATABASE="sqlite:///env.db")
    assert json.loads(override.stdout)["database"]["from"] == "HOURHAND_DATABASE"


def test_a_command_that_may_create_the_database_does_after_an_earlier_read(
    tmp_path: Path,
) -> None:
    """(``hourhand web --config FILE`` on a new database read the file through a reading
    app first, and then refused: "no database".)"""
    from hourhand.cli.main import Settings

    settings = Settings(None, f"sqlite:///{tmp_path}/fresh.db")
    try:
        settings.app()  # a part that only reads asks first
        app = settings.app(create=True)  # then the command's own part, which may create
        assert app.store.schema_version() is not None
        assert (tmp_path / "fresh.db").exists()
    finally:
        settings.close()
