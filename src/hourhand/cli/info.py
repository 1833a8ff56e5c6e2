"""``info``: which database, app and config file this command line would use, and what the
database holds. It creates and changes nothing."""

from __future__ import annotations

from importlib.metadata import version as package_version
from typing import Any

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, echo_json, print_fields
from hourhand.config import config_path
from hourhand.humanize import plural
from hourhand.jobs import JobState
from hourhand.store import DatabaseInfo

pass_settings = click.make_pass_decorator(Settings)
ORIGINS = {"app": "set in the app", "default": "the default"}


def schema_text(info: DatabaseInfo) -> str:
    if not info.exists:
        return "-"
    if info.schema_version is None:
        return 'no hourhand tables (run "hourhand migrate" to create them)'
    if info.schema_version < info.latest_version:
        return (
            f"version {info.schema_version}, behind this hourhand's {info.latest_version} "
            '(run "hourhand migrate" to upgrade it)'
        )
    if info.schema_version > info.latest_version:
        return (
            f"version {info.schema_version}, newer than this hourhand's {info.latest_version} "
            "(upgrade hourhand)"
        )
    return f"version {info.schema_version} (up to date)"


def jobs_text(info: DatabaseInfo) -> str:
    if info.schema_version is None:
        return "-"
    total = sum(info.jobs.values())
    if info.empty:
        return "none: a new, empty database"
    if not total:
        return "none"
    by_state = ", ".join(f"{info.jobs[s]} {s}" for s in JobState if info.jobs.get(s))
    return f"{plural(total, 'job')}: {by_state}"


def config_text(read: str | None, here: str | None) -> str:
    if read:
        return f"{read} (read by the app)"
    if here:
        return f'none read by the app; "hourhand scheduler" would read {here}'
    return "none"


@cli.command("info")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def info_command(settings: Settings, as_json: bool) -> None:
    """Which database (and app, and config file) hourhand uses here, its schema version and
    how many jobs it holds. Creates nothing: a missing database is reported, not made."""
    app = settings.app()
    info = app.database_info()
    database_from = settings.database_origin()
    read = str(app.config_path.resolve()) if app.config_path else None
    found = config_path(None)
    here = str(found.resolve()) if found else None
    app_info: dict[str, Any] | None = None
    if settings.app_path:
        app_info = {
            "path": settings.app_path,
            "from": settings.app_source,
            "job_types": app.own_job_types(),  # (not hourhand.*)
            "code_schedules": sorted(app.code_schedules),
        }
    if as_json:
        echo_json(
            {
                "database": {
                    "url": info.url,
                    "from": database_from,
                    "dialect": info.dialect,
                    "path": info.path,
                    "exists": info.exists,
                },
                "schema": {
                    "version": info.schema_version,
                    "latest": info.latest_version,
                    "up_to_date": info.schema_version == info.latest_version,
                },
                "jobs": info.jobs,
                "schedules": info.schedules,
                "empty": info.empty,
                "app": app_info,
                "config": {"path": read or here, "read_by_app": read is not None},
                "version": package_version("hourhand"),
            }
        )
        return
    origin = ORIGINS.get(database_from, f"from {database_from}")
    rows: list[tuple[str, Cell]] = [("database", f"{info.url} ({origin})")]
    if info.path is not None:
        exists = "exists" if info.exists else 'does not exist (run "hourhand migrate" to create it)'
        rows.append(("file", f"{info.path}: {exists}"))
    rows += [
        ("schema", schema_text(info)),
        ("jobs", jobs_text(info)),
        ("schedules", str(info.schedules) if info.schema_version is not None else "-"),
    ]
    if app_info is None:
        rows.append(("app", "none (pass --app module:attribute or set HOURHAND_APP)"))
    else:
        types = plural(len(app.own_job_types()), "job type")
        crons = plural(len(app.code_schedules), "code schedule")
        rows.append(("app", f"{settings.app_path} (from {settings.app_source}): {types}, {crons}"))
    rows += [
        ("config", config_text(read, here)),
        ("hourhand", package_version("hourhand")),
    ]
    print_fields(rows)
