"""Scaling: drain N jobs with 1, 2, 4 and 8 hourhand worker processes on PostgreSQL.

Run from the repo root: ``.venv/bin/python bench/scale.py [--jobs N] [--workers 1,2,4,8]
[--pgbouncer]``.

For each worker count: a fresh database, N no-op jobs enqueued in one call, a CHECKPOINT, then
the workers drain them (ready/go protocol of harness.py: the clock starts at "go"). Reported:

- jobs/s, from "go" to the database's time of the last completion;
- server CPU per job: utime+stime of the postmaster and every child (backends, WAL writer,
  checkpointer, autovacuum), read from /proc before and after the drain; children that exit
  meanwhile are in the postmaster's cutime/cstime. The driver's own polling backend is
  taken out;
- worker CPU per job: each worker process's rusage from "go" to its exit;
- connections: the most each process held at once while draining, and after it, from
  pg_stat_activity by application_name (each process gets its own, through PGAPPNAME);
  the same for a worker busy with long jobs, a scheduler process and a process waiting on
  ``hh.wait``;
- the server's CPU per job of single enqueues, and per poll of an idle worker.

``--pgbouncer`` runs the same through a PgBouncer in transaction mode (tests/support), with
``?pgbouncer=true`` and a direct LISTEN connection (HOURHAND_LISTEN_DATABASE); its own CPU is
reported apart. Results: a table on stdout and bench/results/scale-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from tests.support.pgbouncer import PgBouncer  # noqa: E402
from tests.support.pgserver import PgServer  # noqa: E402

from harness import Workers, worker_ready_then_wait_go  # noqa: E402
from hh_jobs import build_app  # noqa: E402
from hh_probe import LEFT_SQL  # noqa: E402

RESULTS = BENCH / "results" / "scale-latest.json"
CONCURRENCY = 200  # jobs running at once per worker process (as bench.py)
POLL_INTERVAL = 1.0  # seconds; NOTIFY wakes the workers well before
LEASE = 30.0  # seconds: the default (heartbeats every 10 s)
BUSY_LEASE = 3.0  # seconds, for counting a busy worker's connections: heartbeats every 1 s
DRAIN_TIMEOUT = 900.0  # seconds per drain
SAMPLE_EVERY = 0.1  # seconds between completion checks and connection counts
BOUNCER_POOL = 20  # PgBouncer server connections for the database (--pgbouncer)
APP_PREFIX = "hh-scale-"
TICK = os.sysconf("SC_CLK_TCK")


# -- the processes under test ---------------------------------------------------------------


def worker_main(url: str, concurrency: int, lease: float) -> None:
    """A worker process: connect, say ready, drain from "go" until SIGTERM; print its CPU."""
    hh = build_app(url)

    @hh.job("nap")
    async def nap(ctx: Any, seconds: float) -> None:
        await asyncio.sleep(seconds)

    hh.store  # noqa: B018  open and migrate before the clock starts
    worker = hh.worker(concurrency=concurrency, poll_interval=POLL_INTERVAL, lease=lease)
    worker_ready_then_wait_go()
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        worker.run(install_signals=True)
    finally:
        hh.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"completed": worker.stats.completed, "cpu_s": round(cpu, 3)}), flush=True)


def scheduler_main(url: str) -> None:
    """A scheduler process (one cron schedule), until SIGTERM."""
    import signal

    hh = build_app(url)

    @hh.cron("* * * * *", name="scale-tick")
    def tick(ctx: Any) -> None: ...

    scheduler = hh.scheduler(poll_interval=0.2)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    worker_ready_then_wait_go()
    scheduler.run()
    hh.close()


def waiter_main(url: str) -> None:
    """A process that enqueues and waits (a web process would): hh.wait on a job no worker
    runs, until SIGTERM."""
    import signal

    hh = build_app(url)
    job_id = hh.enqueue("noop", queue="nobody")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker_ready_then_wait_go()
    while not stop.is_set():
        hh.wait(job_id, timeout=0.5)
    hh.close()


# -- measuring --------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def proc_cpu(pid: int, *, children_done: bool = False) -> float:
    """Seconds of CPU of one process (with ``children_done``: plus its exited children's)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children_done:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the postmaster, its live children, and its exited children."""
    total = proc_cpu(postmaster, children_done=True)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == postmaster:  # ppid
                total += proc_cpu(int(entry))
    return total


def postmaster_pid(server: PgServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


class Connections:
    """Connections per application_name, most at once, sampled while draining; and how
    many of them were LISTENing (their last statement a LISTEN)."""

    def __init__(self) -> None:
        self.most: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.listening: dict[str, int] = {}

    def sample(self, conn: Any, dbname: str) -> None:
        rows = conn.execute(
            "SELECT application_name, count(*), count(*) FILTER (WHERE query LIKE 'LISTEN %%') "
            "FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s GROUP BY 1",
            (dbname, APP_PREFIX + "%"),
        ).fetchall()
        self.last = {name: n for name, n, _ in rows}
        for name, n, listening in rows:
            self.most[name] = max(self.most.get(name, 0), n)
            self.listening[name] = max(self.listening.get(name, 0), listening)


def wal_lsn(conn: Any) -> str:
    row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return str(row[0])


def wal_bytes(conn: Any, before: str) -> int:
    row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (before,))
    return int(row.fetchone()[0])


class Pooler:
    """PgBouncer's clients (per application_name) and server connections for a database,
    the most at once, from its admin console."""

    def __init__(self, bouncer: PgBouncer, dbname: str) -> None:
        self.bouncer = bouncer
        self.dbname = dbname
        self.servers = 0
        self.clients: dict[str, int] = {}

    def sample(self) -> None:
        servers = [s for s in self.bouncer.show("SERVERS") if s["database"] == self.dbname]
        self.servers = max(self.servers, len(servers))
        seen: dict[str, int] = {}
        for client in self.bouncer.show("CLIENTS"):
            if client["database"] == self.dbname:
                name = str(client.get("application_name", ""))
                seen[name] = seen.get(name, 0) + 1
        for name, n in seen.items():
            self.clients[name] = max(self.clients.get(name, 0), n)


def drain(
    server: PgServer,
    bouncer: PgBouncer | None,
    n: int,
    count: int,
    concurrency: int,
    tmp: Path,
) -> dict[str, Any]:
    import psycopg

    dbname = f"scale_{count}{'_bouncer' if bouncer else ''}"
    direct = server.create_database(dbname)
    url = bouncer.url(dbname) + "?pgbouncer=true" if bouncer else direct
    postmaster = postmaster_pid(server)
    hh = build_app(direct)
    hh.store  # noqa: B018  migrate
    cpu = server_cpu(postmaster)
    t0 = time.perf_counter()
    hh.enqueue_many("noop", [{} for _ in range(n)])
    enqueue_s = time.perf_counter() - t0
    enqueue_cpu = server_cpu(postmaster) - cpu
    hh.close()
    server.sql("CHECKPOINT")

    cmd = [sys.executable, __file__, "--worker", "--url", url, "--concurrency", str(concurrency)]
    cmd += ["--lease", str(LEASE)]
    env = {"HOURHAND_LISTEN_DATABASE": direct} if bouncer else {}
    groups = []
    for i in range(count):  # one group per process: each its own application_name
        name = f"{APP_PREFIX}worker-{i}"
        groups.append(Workers(cmd, 1, tmp, f"{dbname}-{i}", env={**env, "PGAPPNAME": name}))
    counter = Connections()
    pooler = Pooler(bouncer, dbname) if bouncer else None
    with psycopg.connect(direct, autocommit=True) as poll:
        own = poll.execute("SELECT pg_backend_pid()").fetchone()
        assert own is not None
        poller = int(own[0])
        try:
            for group in groups:
                group.wait_ready()
            counter.sample(poll, dbname)
            ready = dict(counter.last)
            counter.most.clear()
            lsn = wal_lsn(poll)
            cpu0 = server_cpu(postmaster) - proc_cpu(poller)
            bouncer0 = proc_cpu(bouncer.proc.pid) if bouncer and bouncer.proc else 0.0
            go_wall = time.time()
            for group in groups:
                group.go()
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while True:
                row = poll.execute(LEFT_SQL).fetchone()  # (partial indexes: see hh_probe)
                counter.sample(poll, dbname)
                if pooler is not None:
                    pooler.sample()
                if row is not None and row[0] == 0:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"drain with {count} workers did not finish")
                for group in groups:
                    group.check_alive()
                time.sleep(SAMPLE_EVERY)
            cpu1 = server_cpu(postmaster) - proc_cpu(poller)
            bouncer1 = proc_cpu(bouncer.proc.pid) if bouncer and bouncer.proc else 0.0
            wal = wal_bytes(poll, lsn)
            row = poll.execute(
                "SELECT extract(epoch FROM max(finished_at)), count(*) FROM hourhand_jobs "
                "WHERE state = 'completed'"
            ).fetchone()
            assert row is not None
            last, completed = float(row[0]), int(row[1])
            counter.sample(poll, dbname)
            idle = dict(counter.last)
        finally:
            outputs = [out for group in groups for out in group.stop()]
    stats = [json.loads(o.strip().splitlines()[-1]) for o in outputs if o.strip()]
    drain_s = last - go_wall
    worker_cpu = sum(s["cpu_s"] for s in stats)
    result: dict[str, Any] = {
        "workers": count,
        "jobs": n,
        "completed": completed,
        "enqueue_s": round(enqueue_s, 2),
        "enqueue_server_us_per_job": round(enqueue_cpu / n * 1e6, 1),
        "drain_s": round(drain_s, 2),
        "jobs_per_s": round(completed / drain_s, 1),
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "server_us_per_job": round((cpu1 - cpu0) / completed * 1e6, 1),
        "wal_bytes_per_job": round(wal / completed),
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_us_per_job": round(worker_cpu / completed * 1e6, 1),
        "connections_ready": ready,
        "connections_most": counter.most,
        "connections_listening": counter.listening,
        "connections_idle": idle,
    }
    if bouncer and pooler:
        result["pgbouncer_us_per_job"] = round((bouncer1 - bouncer0) / completed * 1e6, 1)
        result["pgbouncer_server_connections_most"] = pooler.servers
        result["pgbouncer_clients_most"] = pooler.clients
    return result


def single_enqueues(server: PgServer, count: int = 2000) -> dict[str, Any]:
    """Server CPU and WAL per job of ``hh.enqueue`` one at a time (a web process's way)."""
    import psycopg

    direct = server.create_database("scale_single")
    hh = build_app(direct)
    hh.store  # noqa: B018  migrate
    postmaster = postmaster_pid(server)
    with psycopg.connect(direct, autocommit=True) as conn:
        own = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert own is not None
        lsn = wal_lsn(conn)
        cpu0 = server_cpu(postmaster) - proc_cpu(int(own[0]))
        t0 = time.perf_counter()
        for _ in range(count):
            hh.enqueue("noop")
        seconds = time.perf_counter() - t0
        cpu1 = server_cpu(postmaster) - proc_cpu(int(own[0]))
        wal = wal_bytes(conn, lsn)
    hh.close()
    return {
        "jobs": count,
        "per_s": round(count / seconds, 1),
        "server_us_per_job": round((cpu1 - cpu0) / count * 1e6, 1),
        "wal_bytes_per_job": round(wal / count),
    }


def idle_polls(server: PgServer, count: int = 2000) -> dict[str, Any]:
    """Server CPU of one poll of an idle worker: what it runs every poll interval when
    nothing wakes it (promote due jobs, claim), on an empty queue."""
    direct = server.create_database("scale_polls")
    hh = build_app(direct)
    store = hh.store
    postmaster = postmaster_pid(server)
    cpu0 = server_cpu(postmaster)
    for _ in range(count):
        store.promote_due()
        store.claim("idle-worker", None, 200, LEASE, ["noop"])
    cpu1 = server_cpu(postmaster)
    hh.close()
    return {"polls": count, "server_us_per_poll": round((cpu1 - cpu0) / count * 1e6, 1)}


def others(server: PgServer, tmp: Path, concurrency: int) -> dict[str, Any]:
    """Connections of a worker busy with long jobs (heartbeating), of a scheduler process,
    and of a process waiting on hh.wait: the most each held at once over 5 s."""
    import psycopg

    direct = server.create_database("scale_others")
    hh = build_app(direct)

    @hh.job("nap")
    async def nap(ctx: Any, seconds: float) -> None: ...

    hh.enqueue_many("nap", [{"seconds": 2.0} for _ in range(20 * concurrency)])
    hh.close()
    roles = {
        "worker": ["--worker", "--concurrency", str(concurrency), "--lease", str(BUSY_LEASE)],
        "scheduler": ["--scheduler"],
        "waiter": ["--waiter"],
    }
    found: dict[str, Any] = {}
    with psycopg.connect(direct, autocommit=True) as poll:
        for role, options in roles.items():
            name = f"{APP_PREFIX}{role}"
            cmd = [sys.executable, __file__, *options, "--url", direct]
            group = Workers(cmd, 1, tmp, f"others-{role}", env={"PGAPPNAME": name})
            counter = Connections()
            try:
                group.wait_ready()
                group.go()
                end = time.monotonic() + 5.0
                while time.monotonic() < end:
                    counter.sample(poll, "scale_others")
                    time.sleep(SAMPLE_EVERY)
            finally:
                group.stop()
            found[role] = {
                "most": counter.most.get(name, 0),
                "listening": counter.listening.get(name, 0),
            }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--lease", type=float, default=LEASE, help=argparse.SUPPRESS)
    parser.add_argument("--pgbouncer", action="store_true", help="also through PgBouncer")
    parser.add_argument("--json", type=Path, default=RESULTS)
    # the processes under test (the driver starts them)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--waiter", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args.url, args.concurrency, args.lease)
    if args.scheduler:
        return scheduler_main(args.url)
    if args.waiter:
        return waiter_main(args.url)

    counts = [int(c) for c in args.workers.split(",")]
    server = PgServer(fast=False, max_connections=300).start()
    version = str(server.sql("SHOW server_version")[0][0])
    bouncer = None
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="hourhand-scale-") as tmp:
            modes: list[PgBouncer | None] = [None]
            if args.pgbouncer:
                bouncer = PgBouncer(server, pool_size=BOUNCER_POOL).start()
                modes.append(bouncer)
            for mode in modes:
                for count in counts:
                    run = drain(server, mode, args.jobs, count, args.concurrency, Path(tmp))
                    run["via"] = "pgbouncer" if mode else "direct"
                    runs.append(run)
                    report(run)
            single = single_enqueues(server)
            print(
                f"single enqueues: {single['per_s']} jobs/s, server "
                f"{single['server_us_per_job']} us/job, WAL {single['wal_bytes_per_job']} B/job"
            )
            polls = idle_polls(server)
            print(f"idle polls: server {polls['server_us_per_poll']} us/poll")
            other = others(server, Path(tmp), args.concurrency)
            for role, seen in other.items():
                print(
                    f"connections of a {role} process: {seen['most']} at most, "
                    f"{seen['listening']} of them listening"
                )
    finally:
        if bouncer is not None:
            bouncer.stop()
        server.stop()
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "postgres": version,
        "concurrency": args.concurrency,
        "runs": runs,
        "single_enqueues": single,
        "idle_polls": polls,
        "other_connections": other,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results: {args.json}")


def report(run: dict[str, Any]) -> None:
    """One line per drain. Through PgBouncer, a worker's connections are its clients of
    PgBouncer plus its direct LISTEN one (the server's are PgBouncer's, named after
    whichever client used them last)."""
    if "pgbouncer_us_per_job" in run:
        clients = max(run["pgbouncer_clients_most"].values(), default=0)
        connections = (
            f"PgBouncer clients per worker <= {clients} (+1 direct LISTEN); "
            f"pgbouncer {run['pgbouncer_us_per_job']} us/job, "
            f"{run['pgbouncer_server_connections_most']} server connections"
        )
    else:
        most = max(run["connections_most"].values(), default=0)
        connections = f"connections per worker <= {most}"
    print(
        f"{run['via']:9} {run['workers']} workers: {run['jobs_per_s']:>8} jobs/s  "
        f"server {run['server_us_per_job']:>6} us/job  workers {run['worker_us_per_job']:>6} "
        f"us/job  WAL {run['wal_bytes_per_job']} B/job  {connections}",
        flush=True,
    )


if __name__ == "__main__":
    main()
