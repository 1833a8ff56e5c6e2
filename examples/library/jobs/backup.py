"""backup_database (daily, 02:00): a copy of the whole database (the library's tables and
hourhand's) in the backups folder (``LIBRARY_BACKUP_DIR``, default ./backups), keeping
the newest ``keep``.

- SQLite: the online backup API (``sqlite3.Connection.backup``) in one step, so the
  copy is one consistent snapshot while workers keep writing (a backup in several steps
  starts over whenever another connection writes between two of them, which a busy
  database does all the time); the copy is checked (``PRAGMA quick_check``) and turned
  into a single self-contained file (journal mode DELETE) before it takes its name.
- PostgreSQL: ``pg_dump --format=custom`` (restore with ``pg_restore``), found on the
  PATH or as the newest /usr/lib/postgresql/*/bin/pg_dump; the password goes in its
  environment, never on its command line.

A file is written under a temporary name and renamed when complete: a backup that
failed or was stopped halfway never looks like a good one.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from examples.common.domain import now, sqlite_path
from examples.library import settings
from hourhand import DoNotRetry, Hourhand, JobContext, Retry

MAINTENANCE_QUEUE = "maintenance"
PREFIX = "library-"
NAMES = re.compile(r"^library-\d{8}T\d{6}Z\.(sqlite3|dump)$")  # the files rotation manages
TIMEOUT = 3600.0  # seconds a backup may take
POLL = 0.2  # seconds between checks of a running pg_dump


def find_pg_dump() -> str:
    """pg_dump on the PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_dump")
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), key=version, reverse=True)
    if not candidates:
        raise DoNotRetry("pg_dump not found: install PostgreSQL's client programs")
    return candidates[0]


def sqlite_backup(database: str, target: Path) -> int:
    """Copy the SQLite file ``database`` to ``target``; the tables in the copy."""
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # pages=-1: all of it in one step, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"the copy failed its check: {check}")
        return int(
            copy.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        )
    finally:
        copy.close()
        source.close()


def pg_dump(ctx: JobContext, url: str, target: Path) -> None:
    """Dump the PostgreSQL database at ``url`` to ``target`` (custom format)."""
    parts = urlsplit(url)  # hourhand's own URL options are not libpq's
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "pgbouncer"]
    params: dict[str, Any] = conninfo_to_dict(urlunsplit(parts._replace(query=urlencode(query))))
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    command = [find_pg_dump(), "--format=custom", "--no-owner", f"--file={target}"]
    with tempfile.TemporaryFile("w+") as errors:  # a pipe could fill up and stall it
        process = subprocess.Popen(
            [*command, f"--dbname={make_conninfo(**params)}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        while process.poll() is None:
            if ctx.cancel_event.wait(POLL):  # cancelled, timed out, or the worker stops
                process.kill()
                process.wait()
                raise RuntimeError(f"pg_dump stopped: {ctx.cancel_reason or 'cancelled'}")
        errors.seek(0)
        lines = errors.read().strip().splitlines()
    if process.returncode != 0:
        raise RuntimeError(
            f"pg_dump exited with {process.returncode}: {lines[-1] if lines else 'no message'}"
        )


def rotate(folder: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups (and leftovers of stopped ones); the
    names deleted. Only files named as this job names them are touched."""
    backups = sorted((p for p in folder.iterdir() if NAMES.match(p.name)), reverse=True)
    removed = [*backups[keep:], *folder.glob(f"{PREFIX}*.partial")]
    for path in removed:
        path.unlink(missing_ok=True)
    return sorted(p.name for p in removed)


def register(hh: Hourhand) -> None:
    @hh.job(
        "backup_database",
        queue=MAINTENANCE_QUEUE,
        max_attempts=3,
        retry=Retry.fixed([600, 1800]),
        timeout=TIMEOUT,
        concurrency=1,
    )
    def backup_database(ctx: JobContext, keep: int = 7) -> dict[str, Any]:
        """Database backup: write one, keep the newest ``keep``."""
        if keep < 1:
            raise DoNotRetry("keep must be at least 1")
        folder = settings.backup_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = (ctx.job.fire_time or now()).strftime("%Y%m%dT%H%M%SZ")
        url = hh.database_url
        sqlite = url.startswith("sqlite:")
        final = folder / f"{PREFIX}{stamp}.{'sqlite3' if sqlite else 'dump'}"
        partial = final.with_suffix(".partial")
        ctx.progress(0, "copying")
        result: dict[str, Any] = {"file": final.name}
        try:
            if sqlite:
                result["tables"] = sqlite_backup(sqlite_path(url), partial)
            else:
                pg_dump(ctx, url, partial)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        result["bytes"] = final.stat().st_size
        result["removed"] = rotate(folder, keep)
        result["kept"] = sum(1 for p in folder.iterdir() if NAMES.match(p.name))
        return result
