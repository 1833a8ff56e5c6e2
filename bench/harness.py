"""Shared pieces of the benchmark: worker processes, polling, latency maths.

Standard library only: this module is imported both by hourhand's side (the project's
.venv) and by the peers' helper scripts (bench/.peers), which do not have hourhand.

Worker processes follow one protocol, whatever the system: the process imports its
library, connects, prints ``ready`` on stdout, then blocks until it reads ``go`` on stdin,
and only then starts its worker loop. SIGTERM stops it. So the drain clock starts at
``go``, with every system's interpreter start-up and imports left out alike; the drain is
also reported from just before the processes are spawned ("cold", start-up included).

CPU is read from ``/proc/<pid>/stat`` (user + system time of every thread of a process):
for the client, the worker processes (or the enqueuing process); for the server, every
process of the PostgreSQL server (see ``server_cpu``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

READY_TIMEOUT = 60.0  # seconds a worker process may take to import and connect
STOP_TIMEOUT = 30.0  # seconds a worker process may take to stop after SIGTERM


class Workers:
    """A group of worker processes started with the ready/go protocol."""

    def __init__(
        self,
        cmd: Sequence[str],
        count: int,
        log_dir: Path,
        tag: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []
        for i in range(count):
            log = log_dir / f"{tag}-{i}.log"
            self.logs.append(log)
            with open(log, "w") as err:
                proc = subprocess.Popen(
                    [*cmd, "--index", str(i)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    cwd=Path(__file__).resolve().parent.parent,
                    env={**os.environ, **(env or {})},
                )
            self.procs.append(proc)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        for proc, log in zip(self.procs, self.logs, strict=True):
            assert proc.stdout is not None
            line = _readline(proc, deadline)
            if line.strip() != "ready":
                self.kill()
                raise RuntimeError(
                    f"worker did not get ready (said {line!r}); its log {log}:\n{_tail(log)}"
                )

    def go(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def cpu_s(self) -> float:
        """CPU seconds the worker processes have used so far (read before ``stop``: a
        process that has exited takes its figure with it)."""
        return sum(process_cpu(proc.pid) or 0.0 for proc in self.procs)

    def check_alive(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; log:\n{_tail(log)}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """SIGTERM every worker, wait for them, return what each printed after ``ready``."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        outputs = []
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            outputs.append(out or "")
        return outputs

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(Exception):
                proc.communicate(timeout=5)


def _readline(proc: subprocess.Popen[str], deadline: float) -> str:
    """One line of the worker's stdout, or '' if it exits or the deadline passes."""
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                return proc.stdout.readline()
            if proc.poll() is not None:
                return ""
        return ""
    finally:
        sel.close()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def worker_ready_then_wait_go() -> None:
    """In a worker process: say ready, then block until the driver says go."""
    print("ready", flush=True)
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit("no go from the driver")


def wait_until(
    check: Callable[[], bool], timeout: float, interval: float = 0.05, on_poll=None
) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if on_poll is not None:
            on_poll()
        time.sleep(interval)
    return check()


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_stats(
    called: dict[int, float], returned: dict[int, float], started: dict[int, float]
) -> dict[str, Any]:
    """Latencies in ms, from seq -> wall time maps: from the moment the enqueue call
    returned (its commit done) to the handler's first line (``p50_ms``, ``p99_ms``), and
    from just before the call (``p50_called_ms``, ``p99_called_ms``)."""
    out: dict[str, Any] = {"latency_jobs": len(returned)}
    for suffix, sent in (("", returned), ("_called", called)):
        lat = [(started[s] - sent[s]) * 1000 for s in sent if s in started]
        out["latency_seen"] = len(lat)
        for key, value in (
            ("p50", percentile(lat, 50)),
            ("p99", percentile(lat, 99)),
            ("mean", statistics.fmean(lat) if lat else None),
            ("max", max(lat) if lat else None),
        ):
            out[f"{key}{suffix}_ms"] = round(value, 2) if lat and value is not None else None
    return out


def read_starts(path: Path) -> dict[int, float]:
    """seq -> start time, from the ``seq time`` lines latency handlers append."""
    found: dict[int, float] = {}
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                found[int(parts[0])] = float(parts[1])
    return found


class StartRecorder:
    """In a worker process: append ``seq time`` for each latency job as it starts."""

    def __init__(self, path: str | None) -> None:
        self._file = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def record(self, seq: int) -> None:
        now = time.time()
        if self._file is not None:
            self._file.write(f"{seq} {now!r}\n")


def drain_result(
    n: int,
    completed: int,
    launch_wall: float,
    go_wall: float,
    last_finish: Any,
    poll_s: float,
) -> dict[str, Any]:
    """Drain figures, warm (from "go") and cold (from just before the worker processes
    were spawned). The end is the database's time of the last completion (same host clock
    as ``time.time()``), so the completion poll can be coarse and cheap; the poll's own
    figure is kept, and used if the database's time is missing or implausible."""
    drain_s = poll_s
    source = "poll"
    if last_finish is not None:
        by_db = float(last_finish) - go_wall
        if 0 < by_db <= poll_s + 0.5:
            drain_s, source = by_db, "db"
    cold_s = drain_s + (go_wall - launch_wall)
    return {
        "drain_s": round(drain_s, 3),
        "drain_per_s": rate(completed, drain_s),
        "drain_cold_s": round(cold_s, 3),
        "drain_cold_per_s": rate(completed, cold_s),
        "drain_poll_s": round(poll_s, 3),
        "drain_end_from": source,
        "drain_complete": completed >= n,
        "completed": completed,
    }


DRAIN_POLL_INTERVAL = 0.1  # seconds between completion checks while draining


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("nan")


def us_per_job(cpu_s: float | None, jobs: int) -> float | None:
    """CPU microseconds per job, or None where there is no figure (SQLite's server)."""
    return round(cpu_s / jobs * 1e6, 1) if cpu_s is not None and jobs > 0 else None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


# -- CPU from /proc ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # units of /proc/<pid>/stat's times, per second


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name, or None if it is gone.
    ``fields[0]`` is field 3 of proc(5) (state), so field k is ``fields[k - 3]``."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def process_cpu(pid: int, *, reaped_children: bool = False) -> float | None:
    """User + system CPU seconds of a process (all its threads), or None if it is gone.
    With ``reaped_children``, also those of its children it has waited for (cutime +
    cstime)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime (14), stime (15)
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime (16), cstime (17)
    return ticks / CLOCK_TICKS


def children_of(ppid: int) -> list[int]:
    """The live processes whose parent is ``ppid``, from /proc/*/stat."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == ppid:  # ppid (4)
                found.append(int(entry.name))
    return found


def postmaster_pid(data_dir: str | Path) -> int:
    """The PostgreSQL server's pid: the first line of <data dir>/postmaster.pid."""
    return int((Path(data_dir) / "postmaster.pid").read_text().splitlines()[0])


def server_cpu(postmaster: int | None) -> float | None:
    """CPU seconds used so far by a PostgreSQL server: the postmaster, its live children
    (backends, walwriter, checkpointer, autovacuum, ...) and the children it has reaped
    (the postmaster waits for each child that exits, which adds that child's CPU to its
    cutime/cstime). So a backend that exits during a phase keeps its CPU in the total; only
    a child that has exited and not yet been reaped at the instant of a reading is missed.
    None without a server (SQLite: its work is in the client processes)."""
    if postmaster is None:
        return None
    total = process_cpu(postmaster, reaped_children=True) or 0.0
    return total + sum(process_cpu(pid) or 0.0 for pid in children_of(postmaster))


def cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 3)


def cpu_figures(prefix: str, client_s: float | None, server_s: float | None, jobs: int):
    """``{prefix}_client_cpu_s``, ``..._server_cpu_s`` and the same per job in µs."""
    return {
        f"{prefix}_client_cpu_s": client_s,
        f"{prefix}_server_cpu_s": server_s,
        f"{prefix}_client_us_per_job": us_per_job(client_s, jobs),
        f"{prefix}_server_us_per_job": us_per_job(server_s, jobs),
    }


class EnqueueMeter:
    """Time and CPU of an enqueue phase run in this process: the client is this process
    (all its threads), the server all of PostgreSQL's processes."""

    def __init__(self, postmaster: int | None) -> None:
        self.postmaster = postmaster

    def __enter__(self) -> EnqueueMeter:
        self._client = process_cpu(os.getpid())
        self._server = server_cpu(self.postmaster)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.client_s = cpu_delta(self._client, process_cpu(os.getpid()))
        self.server_s = cpu_delta(self._server, server_cpu(self.postmaster))

    def result(self, jobs: int) -> dict[str, Any]:
        return {
            "enqueue_s": round(self.seconds, 3),
            "enqueue_per_s": rate(jobs, self.seconds),
            **cpu_figures("enqueue", self.client_s, self.server_s, jobs),
        }


# -- a drain phase -----------------------------------------------------------------------


def run_drain(
    cmd: Sequence[str],
    procs: int,
    n: int,
    *,
    left: Callable[[], int],
    last_finish: Callable[[], Any],
    completed: Callable[[], int],
    log_dir: Path,
    tag: str,
    postmaster: int | None,
    timeout: float,
    interval: float = DRAIN_POLL_INTERVAL,
    stall: float | None = None,
) -> dict[str, Any]:
    """Drain ``n`` queued jobs with ``procs`` worker processes, the same way for every
    system: spawn them (the cold clock starts just before), wait until all are ready, say
    go (the warm clock), poll ``left()`` every ``interval`` seconds until it is 0, read the
    CPU of the workers and of the server while they are all still alive, then stop them.
    ``stall``: seconds without progress after which the drain fails. Returns the figures;
    ``progress`` holds (seconds since go, jobs left) about once a second."""
    server_launch = server_cpu(postmaster)
    launch_wall = time.time()
    t_launch = time.perf_counter()
    workers = Workers(cmd, procs, log_dir, tag)
    progress: list[tuple[float, int]] = []
    try:
        workers.wait_ready()
        ready_s = time.perf_counter() - t_launch
        client_go, server_go = workers.cpu_s(), server_cpu(postmaster)
        go_wall = time.time()
        t_go = time.perf_counter()
        workers.go()
        best, best_at = n + 1, 0.0
        while True:
            remaining = left()
            now = time.perf_counter() - t_go
            if not progress or now - progress[-1][0] >= 1.0 or remaining == 0:
                progress.append((round(now, 2), remaining))
            if remaining == 0:
                break
            if remaining < best:
                best, best_at = remaining, now
            elif stall is not None and now - best_at > stall:
                logs = "\n".join(f"{log}:\n{_tail(log)}" for log in workers.logs)
                raise RuntimeError(f"stalled at {remaining} jobs left after {now:.0f} s\n{logs}")
            if now > timeout:
                break
            workers.check_alive()
            time.sleep(interval)
        poll_s = time.perf_counter() - t_go
        client_end, server_end = workers.cpu_s(), server_cpu(postmaster)
    finally:
        outputs = workers.stop()
    done = completed()
    result = drain_result(n, done, launch_wall, go_wall, last_finish(), poll_s)
    result["ready_s"] = round(ready_s, 3)
    warm_client, warm_server = cpu_delta(client_go, client_end), cpu_delta(server_go, server_end)
    result.update(cpu_figures("drain", warm_client, warm_server, done))
    cold_server = cpu_delta(server_launch, server_end)  # the workers were born after launch
    result.update(cpu_figures("drain_cold", round(client_end, 3), cold_server, done))
    result["worker_outputs"] = [out.strip().splitlines()[-1:] for out in outputs]
    result["progress"] = progress
    return result


def slowest_window(progress: Sequence[tuple[float, int]], window: float) -> float | None:
    """The lowest drain rate (jobs/s) over any ``window`` seconds of a drain's progress
    samples, counting only windows that end before the last job."""
    rates = []
    for i, (t0, left0) in enumerate(progress):
        for t1, left1 in progress[i + 1 :]:
            if t1 - t0 >= window:
                if left1 > 0:
                    rates.append((left0 - left1) / (t1 - t0))
                break
    return round(min(rates)) if rates else None
