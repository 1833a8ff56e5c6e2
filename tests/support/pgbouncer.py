"""A throwaway PgBouncer in front of a :class:`~tests.support.pgserver.PgServer`, for tests
and benchmarks: its own ini and userlist in a temp dir, transaction pooling, a free port.

Authentication matches the server's: trust on loopback (PgBouncer still wants every user in
its auth file). PgBouncer refuses to run as root, so as root it is started with ``-u
postgres`` (it drops to that user itself, so the process we hold is PgBouncer's own).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.pgserver import PgServer, free_port

START_TIMEOUT = 30.0  # seconds PgBouncer may take to accept connections
STOP_TIMEOUT = 10.0  # seconds it may take to exit on SIGTERM


def find_pgbouncer() -> str:
    for found in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if found and os.access(found, os.X_OK):
            return found
    raise RuntimeError("pgbouncer not found: install it (scripts/setup.sh --test does)")


class PgBouncer:
    """``PgBouncer(server, pool_size=4, pools={"alias": ("dbname", size)}).start()``.

    ``url(dbname)`` connects through it; an alias in ``pools`` is a second pool (its own
    size) onto a database of the server, so a test can see a pool smaller than its clients."""

    def __init__(
        self,
        server: PgServer,
        *,
        pool_size: int = 4,
        pools: dict[str, tuple[str, int]] | None = None,
        max_client_conn: int = 500,
    ) -> None:
        self.server = server
        self.dir = Path(tempfile.mkdtemp(prefix="hourhand-pgbouncer-"))
        self.port = free_port()
        self.pool_size = pool_size
        self.pools = dict(pools or {})
        self.max_client_conn = max_client_conn
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._user = ["-u", "postgres"]

    def ini(self) -> str:
        target = f"host=127.0.0.1 port={self.server.port}"
        aliases = "".join(
            f"{alias} = {target} dbname={dbname} pool_size={size}\n"
            for alias, (dbname, size) in self.pools.items()
        )
        return (
            "[databases]\n"
            f"{aliases}"
            f"* = {target}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'userlist.txt'}\n"
            "admin_users = postgres\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
        )

    def start(self) -> PgBouncer:
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(self.ini())
        if self._user:
            user = pwd.getpwnam("postgres")
            for path in (ini, self.dir / "userlist.txt"):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.proc = subprocess.Popen(
            [find_pgbouncer(), *self._user, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start:\n{self.log_tail()}")
            try:
                with psycopg.connect(self.url(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def url(self, dbname: str = "postgres") -> str:
        """A URL through PgBouncer (with hourhand's ``pgbouncer=true``: add it yourself)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def show(self, what: str) -> list[dict[str, object]]:
        """``SHOW what`` on PgBouncer's admin console (POOLS, SERVERS, CLIENTS, ...)."""
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(
            self.url("pgbouncer"),
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,  # the console speaks the simple protocol only
            row_factory=dict_row,
        ) as conn:
            return conn.execute(f"SHOW {what}").fetchall()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.dir / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(STOP_TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)
