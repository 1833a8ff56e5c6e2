"""Benchmark: hourhand (PostgreSQL, SQLite) against PgQueuer and procrastinate.

Run from the repo root: ``.venv/bin/python bench/bench.py [--jobs N] [--quick] [--no-sweep]``.

Each system runs at each of its settings, one timed phase per setting, each phase in a
fresh database (or SQLite file) with a checkpoint just before the clock starts:

- enqueue: N no-op jobs in calls of 100, 1,000, 10,000 jobs and in one call of N;
- drain: N jobs, enqueued in one call, run by 2 worker processes; timed from "go" (warm:
  every worker imported and connected) and from just before the processes are spawned
  (cold); hourhand at concurrency 50, 200, 500 a process; PgQueuer as 1 process of 2
  managers and as 2 processes of 1, at batch size 500 and 1,000;
- latency: one idle worker; single enqueues 7 ms apart, from the moment each enqueue call
  returned to the handler's first line (and from just before the call).

Beside each figure, the CPU per job of the client (the enqueuing process, or the worker
processes) and of the PostgreSQL server (all its processes), read from /proc. The phases
of the systems are interleaved, so that a drift of the machine touches them alike, and the
ratios (hourhand's best / each peer's best) come from the one run. The peers run in their
own virtualenv (bench/.peers, made here if missing) through bench/peer_*.py, on the same
PostgreSQL server (default durability settings). Results: tables on stdout and
bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "src"))  # this tree's hourhand, not an installed one

from tests.support.pgserver import PgServer  # noqa: E402

from harness import (  # noqa: E402
    DRAIN_POLL_INTERVAL,
    EnqueueMeter,
    Workers,
    latency_stats,
    postmaster_pid,
    read_starts,
    run_drain,
    wait_until,
)
from hh_jobs import LATENCY_FILE_ENV, build_app  # noqa: E402
from hh_probe import Probe, sqlite_path  # noqa: E402

PEERS_VENV = BENCH / ".peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
PEER_PACKAGES = ["pgqueuer", "procrastinate", "psycopg[binary]", "asyncpg"]
RESULTS = BENCH / "results" / "latest.json"

JOBS = 100_000  # jobs per enqueue and drain phase: each phase lasts several seconds
QUICK_JOBS = 2000
PROC_JOBS = 20_000  # procrastinate drains 250-500 jobs/s: 100,000 would take minutes
LATENCY_JOBS = 300
DRAIN_PROCS = 2  # worker processes for the drain (the machine has 2 cores)
HH_POLL_INTERVAL = 1.0  # seconds; wake-ups come from NOTIFY / data_version well before
DRAIN_TIMEOUT = 300.0  # seconds, per drain phase
WARMUP_JOBS = 5  # latency jobs run (and not counted) before measuring
IDLE_PAUSE = 0.5  # seconds of quiet between the warm-up and the latency jobs

# The sweeps; --no-sweep (or --fast) runs only the second value of each pair.
ENQUEUE_BATCHES = ([100, 1000, 10_000, 0], [0])  # jobs a call; 0: all N in one call
HH_CONCURRENCY = ([50, 200, 500], [200])  # jobs running at once per hourhand process
PGQ_LAYOUTS = ([(1, 2), (2, 1)], [(2, 1)])  # (processes, PgQueuer managers a process)
PGQ_BATCH_SIZES = ([500, 1000], [1000])  # PgQueuer's dequeue batch_size
PROC_CONCURRENCY = 10  # procrastinate (1-50 all gave 250-500 jobs/s)
TARGETS = {  # --only name: (system, store)
    "hourhand-pg": ("hourhand", "postgresql"),
    "hourhand-sqlite": ("hourhand", "sqlite"),
    "pgqueuer": ("pgqueuer", "postgresql"),
    "procrastinate": ("procrastinate", "postgresql"),
}


def ensure_peers() -> None:
    """Create bench/.peers with the peers from PyPI, unless it is already there."""
    check = [str(PEERS_PYTHON), "-c", "import pgqueuer, procrastinate, asyncpg, psycopg"]
    if PEERS_PYTHON.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return
    print("bench: installing the peers into bench/.peers ...", file=sys.stderr, flush=True)
    uv = [sys.executable if _has_uv(sys.executable) else "python3", "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", str(PEERS_VENV)], check=True)
    subprocess.run(
        [*uv, "pip", "install", "-q", "--python", str(PEERS_PYTHON), *PEER_PACKAGES], check=True
    )


def _has_uv(python: str) -> bool:
    return subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0


def hourhand_source() -> dict[str, str]:
    """Where the measured hourhand came from: its directory and the tree's commit."""
    import hourhand

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
        return out.stdout.strip()

    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "src")
    return {
        "path": str(Path(hourhand.__file__).parent),
        "commit": head + ("+changes" if dirty else ""),
    }


def peer_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({p: m.version(p) for p in ('pgqueuer', 'procrastinate', 'asyncpg',"
        " 'psycopg')}))"
    )
    out = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    target: str  # a key of TARGETS
    kind: str  # enqueue, drain or latency
    setting: dict[str, int] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return TARGETS[self.target][0]

    @property
    def store(self) -> str:
        return TARGETS[self.target][1]

    @property
    def label(self) -> str:
        s = self.setting
        if self.kind == "enqueue":
            return f"batch {s['batch']:,}" if s["batch"] else "one call"
        if self.kind == "latency":
            return "1 process"
        if self.system == "pgqueuer":
            return f"{s['procs']}p x {s['managers']}m, batch {s['batch_size']:,}"
        return f"{s['procs']}p x c{s['concurrency']}"


def plan(targets: list[str], opts: argparse.Namespace) -> list[Phase]:
    """Every phase to run: by kind (enqueues, drains, latencies), the systems' settings
    taken in turn so that their phases alternate."""
    phases: list[Phase] = []
    for kind in ("enqueue", "drain", "latency"):
        lists = [_settings(t, kind, opts) for t in targets]
        for row in zip_longest(*lists):
            phases += [p for p in row if p is not None]
    return phases


def _settings(target: str, kind: str, opts: argparse.Namespace) -> list[Phase]:
    system = TARGETS[target][0]
    if kind == "latency":
        return [Phase(target, kind)]
    if kind == "enqueue":
        batches = opts.enqueue_batches if system != "procrastinate" else [0]
        return [Phase(target, kind, {"batch": b}) for b in batches]
    if system == "hourhand":
        return [
            Phase(target, kind, {"procs": opts.drain_procs, "concurrency": c})
            for c in opts.hh_concurrency
        ]
    if system == "pgqueuer":
        return [
            Phase(target, kind, {"procs": p, "managers": m, "batch_size": b})
            for b in opts.pgq_batch_size
            for p, m in opts.pgq_layout
        ]
    return [Phase(target, kind, {"procs": opts.drain_procs, "concurrency": opts.proc_concurrency})]


# -- hourhand ----------------------------------------------------------------------------


@dataclass
class Run:
    """What every phase needs: the server, the temp dir, the sizes."""

    server: PgServer
    postmaster: int
    tmp: Path
    jobs: int
    proc_jobs: int
    latency_jobs: int
    spacing: float
    hh_latency_concurrency: int
    pgq_latency_batch_size: int


def fresh_store(run: Run, phase: Phase, index: int) -> str:
    name = f"bench_{index:02d}_{phase.target.replace('-', '_')}_{phase.kind}"
    if phase.store == "sqlite":
        return f"sqlite:///{run.tmp / (name + '.db')}"
    return run.server.create_database(name)


def drop_store(run: Run, url: str) -> None:
    if url.startswith("sqlite:"):
        for suffix in ("", "-wal", "-shm"):
            Path(sqlite_path(url) + suffix).unlink(missing_ok=True)
    else:
        run.server.sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def hh_worker_cmd(url: str, concurrency: int) -> list[str]:
    return [
        sys.executable,
        str(BENCH / "hh_worker.py"),
        "--url",
        url,
        "--concurrency",
        str(concurrency),
        "--poll-interval",
        str(HH_POLL_INTERVAL),
    ]


def hh_enqueue(url: str, n: int, batch: int, postmaster: int | None) -> dict[str, Any]:
    """Enqueue n no-op jobs with ``enqueue_many`` in calls of ``batch`` (0: one call)."""
    hh = build_app(url)
    try:
        hh.store  # noqa: B018  open and migrate outside the clock
        args_list: list[dict[str, Any]] = [{} for _ in range(n)]
        size = batch or n
        with Probe(url) as probe:
            probe.checkpoint()
        with EnqueueMeter(postmaster) as meter:
            for start in range(0, n, size):
                hh.enqueue_many("noop", args_list[start : start + size])
        assert hh.counts()["queued"] == n
        return meter.result(n)
    finally:
        hh.close()


def hh_drain(
    url: str,
    n: int,
    procs: int,
    concurrency: int,
    postmaster: int | None,
    tmp: Path,
    tag: str,
    *,
    enqueue: bool = True,
    interval: float = DRAIN_POLL_INTERVAL,
    timeout: float = DRAIN_TIMEOUT,
    stall: float | None = None,
) -> dict[str, Any]:
    """Enqueue n jobs in one call (untimed; unless ``enqueue`` is false: they are queued
    already), then drain them with worker processes."""
    hh = build_app(url)
    try:
        if enqueue:
            hh.enqueue_many("noop", [{} for _ in range(n)])
        with Probe(url) as probe:
            before = probe.completed()  # the history, if any
            probe.checkpoint()
            return run_drain(
                hh_worker_cmd(url, concurrency),
                procs,
                n,
                left=probe.left,
                last_finish=probe.last_finished,
                completed=lambda: probe.completed() - before,
                log_dir=tmp,
                tag=tag,
                postmaster=postmaster,
                timeout=timeout,
                interval=interval,
                stall=stall,
            )
    finally:
        hh.close()


def hh_latency(url: str, run: Run) -> dict[str, Any]:
    lat_file = run.tmp / f"hourhand-latency-{time.monotonic_ns()}.txt"
    hh = build_app(url)
    cmd = hh_worker_cmd(url, run.hh_latency_concurrency)
    workers = Workers(cmd, 1, run.tmp, "hourhand-latency", env={LATENCY_FILE_ENV: str(lat_file)})
    try:
        hh.store  # noqa: B018
        workers.wait_ready()
        workers.go()
        for i in range(WARMUP_JOBS):  # warm the worker up: connections, notification listener
            hh.enqueue("lat", {"seq": -1 - i})
            time.sleep(0.05)
        _wait_seen(lat_file, WARMUP_JOBS, workers)
        with Probe(url) as probe:  # idle: nothing queued or running, then a quiet moment
            wait_until(lambda: probe.left() == 0, 30)
        time.sleep(IDLE_PAUSE)
        called: dict[int, float] = {}
        returned: dict[int, float] = {}
        for seq in range(run.latency_jobs):
            called[seq] = time.time()
            hh.enqueue("lat", {"seq": seq})
            returned[seq] = time.time()
            time.sleep(run.spacing)
        _wait_seen(lat_file, WARMUP_JOBS + run.latency_jobs, workers)
        return latency_stats(called, returned, read_starts(lat_file))
    finally:
        workers.stop()
        hh.close()


def _wait_seen(path: Path, count: int, workers: Workers) -> None:
    def seen() -> bool:
        workers.check_alive()
        return len(read_starts(path)) >= count

    if not wait_until(seen, 30):
        raise RuntimeError(f"only {len(read_starts(path))} of {count} latency jobs started")


def run_hourhand(phase: Phase, url: str, run: Run) -> dict[str, Any]:
    postmaster = run.postmaster if phase.store == "postgresql" else None
    if phase.kind == "enqueue":
        return hh_enqueue(url, run.jobs, phase.setting["batch"], postmaster)
    if phase.kind == "drain":
        s = phase.setting
        tag = f"{phase.target}-drain-c{s['concurrency']}"
        return hh_drain(url, run.jobs, s["procs"], s["concurrency"], postmaster, run.tmp, tag)
    return hh_latency(url, run)


# -- peers -------------------------------------------------------------------------------


def run_peer(phase: Phase, url: str, run: Run) -> dict[str, Any]:
    n = run.proc_jobs if phase.system == "procrastinate" else run.jobs
    cmd = [str(PEERS_PYTHON), str(BENCH / f"peer_{phase.system}.py"), phase.kind]
    cmd += ["--url", url, "--jobs", str(n), "--tmp", str(run.tmp)]
    cmd += ["--postmaster", str(run.postmaster), "--drain-timeout", str(DRAIN_TIMEOUT)]
    cmd += ["--latency-jobs", str(run.latency_jobs), "--spacing", str(run.spacing)]
    s = phase.setting
    if phase.kind == "enqueue" and phase.system == "pgqueuer":
        cmd += ["--batch", str(s["batch"])]
    elif phase.kind == "drain" and phase.system == "pgqueuer":
        cmd += ["--procs", str(s["procs"]), "--managers", str(s["managers"])]
        cmd += ["--batch-size", str(s["batch_size"])]
    elif phase.kind == "drain":
        cmd += ["--procs", str(s["procs"]), "--concurrency", str(s["concurrency"])]
    elif phase.kind == "latency" and phase.system == "pgqueuer":
        cmd += ["--batch-size", str(run.pgq_latency_batch_size)]
    elif phase.kind == "latency":
        cmd += ["--concurrency", str(PROC_CONCURRENCY)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=DRAIN_TIMEOUT + 300
    )
    found = _last_json(proc.stdout)
    if proc.returncode != 0 or not isinstance(found, dict):
        raise RuntimeError(
            f"{phase.system} {phase.kind} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return found


def _last_json(output: str) -> Any:
    for line in reversed(output.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


# -- report ------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], left: int = 2) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" if i < left else f"{{:>{w}}}" for i, w in enumerate(widths))
    print()
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


# (name, results key of jobs/s, key prefix of the CPU figures)
FIGURES = [
    ("enqueue", "enqueue_per_s", "enqueue"),
    ("drain warm", "drain_per_s", "drain"),
    ("drain cold", "drain_cold_per_s", "drain_cold"),
]


def best_of(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per system and store: the best phase for each figure, and the enqueue at batch
    1,000 (the shape both hourhand and PgQueuer are measured at)."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        key = f"{r['system']}-{r['store']}"
        mine = out.setdefault(key, {})
        for name, per_s, cpu in FIGURES:
            if r.get(per_s) is None:
                continue
            entry = {
                "per_s": r[per_s],
                "setting": r["label"],
                "client_us_per_job": r.get(f"{cpu}_client_us_per_job"),
                "server_us_per_job": r.get(f"{cpu}_server_us_per_job"),
            }
            if name not in mine or entry["per_s"] > mine[name]["per_s"]:
                mine[name] = entry
            if name == "enqueue" and r["setting"].get("batch") == 1000:
                mine["enqueue at batch 1,000"] = entry
        if r["phase"] == "latency":
            mine["latency"] = {k: r.get(k) for k in ("p50_ms", "p99_ms", "p50_called_ms")}
            mine["latency"]["p99_called_ms"] = r.get("p99_called_ms")
    return out


def ratios_of(best: dict[str, dict[str, Any]]) -> dict[str, float]:
    """hourhand's best / each peer's best, per figure, from the one run."""
    out: dict[str, float] = {}
    for hh_key in ("hourhand-postgresql", "hourhand-sqlite"):
        for peer_key in ("pgqueuer-postgresql", "procrastinate-postgresql"):
            mine, theirs = best.get(hh_key, {}), best.get(peer_key, {})
            for name in ("enqueue", "enqueue at batch 1,000", "drain warm", "drain cold"):
                if name in mine and name in theirs and theirs[name]["per_s"]:
                    key = f"{hh_key} / {peer_key}: {name}"
                    out[key] = round(mine[name]["per_s"] / theirs[name]["per_s"], 2)
    return out


def report(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, float]]:
    rows = []
    for r in results:
        for name, per_s, cpu in FIGURES:
            if r.get(per_s) is None or not name.startswith(r["phase"]):
                continue
            done = "" if r.get("drain_complete", True) else " (timeout)"
            seconds = r.get(per_s.replace("_per_s", "_s"))
            rows.append(
                (
                    r["system"],
                    r["store"],
                    name,
                    r["label"],
                    _fmt(r[per_s]) + done,
                    _fmt(seconds, 2),
                    _fmt(r.get(f"{cpu}_client_us_per_job"), 1),
                    _fmt(r.get(f"{cpu}_server_us_per_job"), 1),
                )
            )
    header = ("system", "store", "figure", "setting", "jobs/s", "s", "client µs/job")
    table((*header, "server µs/job"), rows, left=4)

    lat = [
        (
            r["system"],
            r["store"],
            _fmt(r.get("p50_ms"), 1),
            _fmt(r.get("p99_ms"), 1),
            _fmt(r.get("p50_called_ms"), 1),
            _fmt(r.get("p99_called_ms"), 1),
        )
        for r in results
        if r["phase"] == "latency"
    ]
    if lat:
        header = ("system", "store", "p50 ms", "p99 ms", "p50 from call", "p99 from call")
        print("\nlatency: enqueue returned -> handler started (and from just before the call)")
        table(header, lat)

    best = best_of(results)
    rows = [
        (
            key,
            name,
            _fmt(e["per_s"]),
            e["setting"],
            _fmt(e["client_us_per_job"], 1),
            _fmt(e["server_us_per_job"], 1),
        )
        for key, figures in best.items()
        for name, e in figures.items()
        if name != "latency"
    ]
    print("\nbest setting of each system, per figure")
    table(("system", "figure", "jobs/s", "setting", "client µs/job", "server µs/job"), rows)
    ratios = ratios_of(best)
    if ratios:
        print("\nhourhand's best / the peer's best (same run)")
        for key, value in ratios.items():
            print(f"  {key}: {value:.2f}x")
    return best, ratios


# -- main --------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _layouts(text: str) -> list[tuple[int, int]]:
    return [(int(p), int(m)) for p, m in (x.split("x") for x in text.split(",") if x.strip())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help=f"jobs a phase ({JOBS:,})")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_JOBS:,} jobs, 100 latency, no sweep"
    )
    parser.add_argument(
        "--sweep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run every setting (default, except with --quick); --no-sweep: one each",
    )
    parser.add_argument("--fast", dest="sweep", action="store_false", help="= --no-sweep")
    parser.add_argument("--latency-jobs", type=int, default=None, help="single enqueues (300)")
    parser.add_argument("--spacing", type=float, default=0.007, help="seconds between them")
    parser.add_argument(
        "--only", default=",".join(TARGETS), help=f"comma-separated subset of: {', '.join(TARGETS)}"
    )
    parser.add_argument("--proc-jobs", type=int, default=None, help=f"({PROC_JOBS:,})")
    parser.add_argument("--drain-procs", type=int, default=DRAIN_PROCS)
    parser.add_argument("--enqueue-batches", type=_ints, help="e.g. 100,1000,10000,0 (0: one)")
    parser.add_argument("--hh-concurrency", type=_ints, help="e.g. 50,200,500")
    parser.add_argument("--pgq-batch-size", type=_ints, help="e.g. 500,1000")
    parser.add_argument("--pgq-layout", type=_layouts, help="processes x managers, e.g. 1x2,2x1")
    parser.add_argument("--proc-concurrency", type=int, default=PROC_CONCURRENCY)
    opts = parser.parse_args()
    sweep = not opts.quick if opts.sweep is None else opts.sweep
    pick = 0 if sweep else 1
    opts.enqueue_batches = opts.enqueue_batches or ENQUEUE_BATCHES[pick]
    opts.hh_concurrency = opts.hh_concurrency or HH_CONCURRENCY[pick]
    opts.pgq_batch_size = opts.pgq_batch_size or PGQ_BATCH_SIZES[pick]
    opts.pgq_layout = opts.pgq_layout or PGQ_LAYOUTS[pick]
    n = opts.jobs or (QUICK_JOBS if opts.quick else JOBS)
    lat_jobs = opts.latency_jobs or (100 if opts.quick else LATENCY_JOBS)
    targets = [t for t in TARGETS if t in {s.strip() for s in opts.only.split(",")}]
    phases = plan(targets, opts)

    if {"pgqueuer", "procrastinate"} & set(targets):
        ensure_peers()
    results: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    server = PgServer(fast=False).start()
    try:
        with tempfile.TemporaryDirectory(prefix="hourhand-bench-") as tmp_name:
            run = Run(
                server=server,
                postmaster=postmaster_pid(server.data),
                tmp=Path(tmp_name),
                jobs=n,
                proc_jobs=opts.proc_jobs or min(n, PROC_JOBS),
                latency_jobs=lat_jobs,
                spacing=opts.spacing,
                hh_latency_concurrency=opts.hh_concurrency[len(opts.hh_concurrency) // 2],
                pgq_latency_batch_size=opts.pgq_batch_size[-1],
            )
            for index, phase in enumerate(phases, 1):
                results.append(run_phase(index, len(phases), phase, run))
    finally:
        server.stop()

    best, ratios = report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/bench.py", *sys.argv[1:]]),
        "jobs": n,
        "procrastinate_jobs": run.proc_jobs,
        "latency_jobs": lat_jobs,
        "spacing_s": opts.spacing,
        "sweep": sweep,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "hourhand": hourhand_source(),
        "peers": peer_versions() if {"pgqueuer", "procrastinate"} & set(targets) else {},
        "results": results,
        "best": best,
        "ratios": ratios,
    }
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


def run_phase(index: int, total: int, phase: Phase, run: Run) -> dict[str, Any]:
    print(
        f"bench: [{index}/{total}] {phase.target} {phase.kind} {phase.label} ...",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.monotonic()
    url = fresh_store(run, phase, index)
    runner: Callable[[Phase, str, Run], dict[str, Any]]
    runner = run_hourhand if phase.system == "hourhand" else run_peer
    try:
        run.server.sql("CHECKPOINT")  # the previous phase's pages, whatever its store
        figures = runner(phase, url, run)
    finally:
        drop_store(run, url)
    r = {
        "system": phase.system,
        "store": phase.store,
        "phase": phase.kind,
        "setting": phase.setting,
        "label": phase.label,
        **figures,
        "wall_s": round(time.monotonic() - t0, 1),
    }
    shown = {k: v for k, v in r.items() if k not in ("progress", "worker_outputs")}
    print(f"bench: {json.dumps(shown)}", file=sys.stderr, flush=True)
    return r


if __name__ == "__main__":
    main()
