"""Shared pieces of the benchmark: worker processes, polling, latency maths.

Standard library only: this module is imported both by hourhand's side (the project's
.venv) and by the peers' helper scripts (bench/.peers), which do not have hourhand.

Worker processes follow one protocol, whatever the system: the process imports its
library, connects, prints ``ready`` on stdout, then blocks until it reads ``go`` on stdin,
and only then starts its worker loop. SIGTERM stops it. So the drain clock starts at
``go``, with every system's interpreter start-up and imports left out alike.
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


def latency_stats(sent: dict[int, float], started: dict[int, float]) -> dict[str, Any]:
    """Enqueue-to-start latencies in ms, from seq -> wall time maps."""
    lat = [(started[s] - sent[s]) * 1000 for s in sent if s in started]
    return {
        "latency_jobs": len(sent),
        "latency_seen": len(lat),
        "p50_ms": round(percentile(lat, 50), 2) if lat else None,
        "p99_ms": round(percentile(lat, 99), 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
        "max_ms": round(max(lat), 2) if lat else None,
    }


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


def drain_result(n: int, completed: int, go_wall: float, last_finish: Any, poll_s: float):
    """Drain figures. The end is the database's time of the last completion (same host
    clock as ``time.time()``), so the completion poll can be coarse and cheap; the poll's
    own figure is kept, and used if the database's time is missing or implausible."""
    drain_s = poll_s
    source = "poll"
    if last_finish is not None:
        by_db = float(last_finish) - go_wall
        if 0 < by_db <= poll_s + 0.5:
            drain_s, source = by_db, "db"
    return {
        "drain_s": round(drain_s, 3),
        "drain_per_s": rate(completed, drain_s),
        "drain_poll_s": round(poll_s, 3),
        "drain_end_from": source,
        "drain_complete": completed >= n,
    }


DRAIN_POLL_INTERVAL = 0.1  # seconds between completion checks while draining


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("nan")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
