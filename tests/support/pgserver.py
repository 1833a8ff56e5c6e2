"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temp dir.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
(created by Debian's package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

FAST_SETTINGS = {  # tests only: durability is not what they measure
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        raise RuntimeError(f"{name} not found: install PostgreSQL (scripts/setup.sh does)")
    return candidates[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, *, fast: bool = True, max_connections: int = 200) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hourhand-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.fast = fast
        self.max_connections = max_connections
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self._as, *cmd], check=True, capture_output=True, text=True, cwd="/")

    def start(self) -> PgServer:
        self._run(
            find_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        opts = [
            f"-p {self.port}",
            f"-k {self.dir}",
            "-c listen_addresses=127.0.0.1",
            f"-c max_connections={self.max_connections}",
        ]
        if self.fast:
            opts += [f"-c {k}={v}" for k, v in FAST_SETTINGS.items()]
        self._options = " ".join(opts)
        self.resume()
        return self

    def resume(self) -> None:
        """Start the (initialised, stopped) server; returns once it accepts connections."""
        self._pg_ctl("-o", self._options, "start")

    def halt(self) -> None:
        """Stop the server as if it crashed, keeping its data (``resume`` starts it)."""
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self, mode: str = "immediate") -> None:
        """Stop the server (``-m immediate``: as if it crashed; it runs crash recovery on
        start) and start it again with the same options; returns once it accepts
        connections."""
        self._pg_ctl("-m", mode, "restart")

    def _pg_ctl(self, *args: str) -> None:
        """pg_ctl on this server's data, logging to its log, waiting up to 60 s."""
        self._run(
            find_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            *args,
        )

    def sql(self, query: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement in autocommit on a fresh connection; its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(query.encode())
            return cur.fetchall() if cur.description else []

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        try:
            text = (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
