"""The chaos tests' harness: worker processes run through the CLI, the workload, the
accounting of what ran where, and the figures each test reports.

Everything is observed from outside: the job rows through hourhand's public API, the
executions through the files tests/chaos/app.py appends to, the workers through their exit
codes and log files.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourhand import Hourhand, Job, JobState, Outcome
from tests.chaos import app as chaos_app
from tests.conftest import subprocess_env, wait_until

WORKER_APP = "tests.chaos.app:hh"
WAITING = ("scheduled", "queued", "running", "retrying")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
# A worker that writes more log records than this in one test (each lasts well under a
# minute) is flooding its log: some loop retries without pausing. A healthy worker writes a
# few records per fault (each of its loops pauses a second after an error), besides one info
# line per finished attempt, which is not counted; the figures show the busiest worker's count.
MAX_LOG_RECORDS = 500
HISTORY_CHECKS = 300  # completed jobs with several attempts whose history is checked

FIGURES: list[Figures] = []  # every chaos test's figures, printed at the end of the session


# -- worker processes -------------------------------------------------------------------------
@dataclass
class Member:
    """One worker process of a fleet."""

    index: int
    proc: subprocess.Popen[bytes]
    log: Path
    started: float  # time.monotonic()
    fate: str = "running"  # running; killed (by the test); died (by itself); stopped; hung
    code: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_records(self) -> int:
        """Records other than the info line every finished attempt writes."""
        return sum(
            1
            for line in self.log_text().splitlines()
            if LOG_RECORD.match(line) and " INFO hourhand.running: " not in line
        )


class Fleet:
    """Worker processes (``python -m hourhand ... worker``) on one database, each with its
    log in a file. Keeps count of what happened to each one."""

    def __init__(self, url: str, folder: Path, *, concurrency: int, lease: float) -> None:
        self.url = url
        self.folder = folder
        self.exec_dir = folder / "executions"
        self.log_dir = folder / "logs"
        self.exec_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.worker_args = (
            *("--concurrency", str(concurrency), "--lease", str(lease)),
            *("--grace", "5", "--poll-interval", "0.5"),
        )
        self.members: list[Member] = []

    def start(self, n: int = 1) -> list[Member]:
        started = []
        for _ in range(n):
            index = len(self.members)
            log = self.log_dir / f"worker{index}.log"
            with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "hourhand",
                        "--app",
                        WORKER_APP,
                        "--database",
                        self.url,
                        "worker",
                        *self.worker_args,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=subprocess_env(CHAOS_LOG_DIR=str(self.exec_dir)),
                )
            member = Member(index, proc, log, time.monotonic())
            self.members.append(member)
            started.append(member)
        return started

    def alive(self) -> list[Member]:
        return [m for m in self.members if m.fate == "running"]

    def kill(self, member: Member) -> None:
        """``kill -9``: the worker gets no chance to record or hand back anything."""
        os.kill(member.pid, signal.SIGKILL)
        member.code = member.proc.wait(10)
        member.fate = "killed"

    def check(self, *, replace: bool) -> list[Member]:
        """Workers that exited by themselves since the last look (each optionally replaced
        by a new one, so the fleet keeps its size)."""
        died = []
        for member in self.alive():
            code = member.proc.poll()
            if code is not None:
                member.fate, member.code = "died", code
                died.append(member)
        if replace and died:
            self.start(len(died))
        return died

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every running worker and wait for it to exit."""
        self.check(replace=False)
        running = self.alive()
        for member in running:
            member.proc.terminate()
        deadline = time.monotonic() + timeout
        for member in running:
            try:
                member.code = member.proc.wait(max(0.1, deadline - time.monotonic()))
                member.fate = "stopped"
            except subprocess.TimeoutExpired:
                member.proc.kill()
                member.code = member.proc.wait()
                member.fate = "hung"

    def kill_all(self) -> None:
        """Clean-up after an error in the test itself: nothing may outlive the test."""
        for member in self.alive():
            if member.proc.poll() is None:
                member.proc.kill()
            member.proc.wait()
            member.fate = "hung" if member.fate == "running" else member.fate

    @property
    def killed_pids(self) -> set[int]:
        return {m.pid for m in self.members if m.fate == "killed"}

    def bad_exits(self) -> list[str]:
        """Exits other than our own kills and a clean (code 0) exit on SIGTERM."""
        bad = []
        for m in self.members:
            if m.fate == "died":
                bad.append(f"worker{m.index} (pid {m.pid}) exited by itself with code {m.code}")
            elif m.fate == "stopped" and m.code != 0:
                bad.append(f"worker{m.index} (pid {m.pid}) exited with code {m.code} on SIGTERM")
            elif m.fate == "hung":
                bad.append(f"worker{m.index} (pid {m.pid}) did not exit on SIGTERM; killed")
        return bad

    def busiest_log(self) -> int:
        return max((m.log_records() for m in self.members), default=0)

    def report(self, tail: int = 12) -> str:
        """What went wrong in the logs: each distinct warning or error with its count, then
        the tail of the logs of the workers that were not killed."""
        distinct: Counter[str] = Counter()
        for m in self.members:
            for line in m.log_text().splitlines():
                if " WARNING " in line or " ERROR " in line or " CRITICAL " in line:
                    text = LOG_RECORD.sub("", line).split(" ", 2)[-1]
                    distinct[re.sub(r"\d+", "#", text)[:200]] += 1
        out = ["distinct warnings/errors in the worker logs (count, message, digits as #):"]
        out += [f"  {n:6d}  {text}" for text, n in distinct.most_common(12)] or ["  none"]
        for m in self.members:
            if m.fate == "killed":
                continue
            lines = m.log_text().splitlines()
            out.append(
                f"--- worker{m.index} pid {m.pid} ({m.fate}, code {m.code}, "
                f"{len(lines)} lines), last {tail}:"
            )
            out += [f"    {line[:300]}" for line in lines[-tail:]]
        return "\n".join(out)


# -- the workload and its accounting ------------------------------------------------------
def open_app(url: str) -> Hourhand:
    """An Hourhand on ``url`` that knows the workload's job types (to enqueue them)."""
    app = Hourhand(url)
    app.registry.update(chaos_app.hh.registry)
    return app


def all_jobs(app: Hourhand) -> dict[int, Job]:
    jobs: dict[int, Job] = {}
    before: int | None = None
    while True:
        page = app.list_jobs(limit=10_000, before_id=before)
        jobs.update((j.id, j) for j in page)
        if len(page) < 10_000:
            return jobs
        before = page[-1].id


def waiting(app: Hourhand) -> int:
    counts = app.counts()
    return sum(counts.get(s, 0) for s in WAITING)


def wait_drained(app: Hourhand, total: int, timeout: float) -> bool:
    """Wait until at least ``total`` jobs exist and none is waiting or running. False at
    the deadline (the figures then show what was left)."""

    def drained() -> bool:
        counts = app.counts()
        return sum(counts.values()) >= total and not any(counts.get(s) for s in WAITING)

    try:
        wait_until(drained, timeout=timeout, interval=0.1, what="the drain")
    except AssertionError:
        return False
    return True


def poll(predicate: Callable[[], Any], timeout: float, what: str, problems: list[str]) -> bool:
    """wait_until that notes a timeout as a problem instead of raising, so the test still
    cleans up and reports its figures."""
    try:
        wait_until(predicate, timeout=timeout, interval=0.05, what=what)
    except AssertionError as exc:
        problems.append(str(exc))
        return False
    return True


@dataclass
class Figures:
    scenario: str
    store: str
    jobs: int = 0
    lost: int = 0  # jobs not completed (or acknowledged and missing)
    failed: int = 0
    duplicates: int = 0  # executions of a job's body beyond its first
    explained: int = 0  # ... of which all ran in a worker the test killed, before the last
    unexplained: int = 0
    bad_exits: int = 0  # exits other than our kills and a clean exit on SIGTERM
    faults: int = 0
    recover_s: float | None = None  # last fault to last completion
    total_s: float | None = None  # start of the run to last completion
    log_records: int = 0  # log records of the busiest worker
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    COLUMNS = (
        ("scenario", 26),
        ("store", 8),
        ("jobs", 6),
        ("lost", 5),
        ("failed", 6),
        ("dups", 5),
        ("explained", 9),
        ("unexpl", 6),
        ("bad exits", 9),
        ("faults", 6),
        ("recover s", 9),
        ("total s", 8),
        ("log recs", 8),
    )

    def row(self) -> list[str]:
        def secs(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        return [
            self.scenario,
            self.store,
            str(self.jobs),
            str(self.lost),
            str(self.failed),
            str(self.duplicates),
            str(self.explained),
            str(self.unexplained),
            str(self.bad_exits),
            str(self.faults),
            secs(self.recover_s),
            secs(self.total_s),
            str(self.log_records),
        ]

    def line(self) -> str:
        return "  ".join(
            v.rjust(w) if i > 1 else v.ljust(w)
            for i, (v, (_, w)) in enumerate(zip(self.row(), self.COLUMNS, strict=True))
        )

    @classmethod
    def header(cls) -> str:
        return "  ".join(
            name.rjust(w) if i > 1 else name.ljust(w) for i, (name, w) in enumerate(cls.COLUMNS)
        )


def table(figures: Iterable[Figures]) -> list[str]:
    rows = list(figures)
    lines = [Figures.header(), "-" * len(Figures.header())]
    lines += [f.line() for f in rows]
    notes = [(f, n) for f in rows for n in f.notes]
    if notes:
        lines.append("")
        lines += [f"{f.scenario} [{f.store}]: {n}" for f, n in notes]
    return lines


def store_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def account(
    figures: Figures,
    app: Hourhand,
    fleet: Fleet,
    *,
    started: float,
    last_fault: float | None,
    expected: Iterable[int] = (),
    duplicates_allowed: bool = False,
) -> None:
    """Fill in the figures from the job rows, the execution logs and the fleet, and note
    every broken expectation in ``figures.problems``.

    ``started`` and ``last_fault`` are ``time.time()`` values (the job rows' times are the
    database's clock, on this machine). With ``duplicates_allowed``, a job's body may run
    more than once as long as every execution but its last was in a worker the test killed.
    """
    jobs = all_jobs(app)
    ids = set(jobs) | set(expected)
    figures.jobs = len(ids)
    missing = sorted(set(expected) - set(jobs))
    not_done = sorted(i for i in ids if i in jobs and jobs[i].state != JobState.COMPLETED)
    failed = [i for i in not_done if jobs[i].state == JobState.FAILED]
    figures.lost = len(missing) + len(not_done)
    figures.failed = len(failed)
    if missing:
        figures.problems.append(
            f"{len(missing)} acknowledged jobs do not exist, e.g. ids {missing[:10]}"
        )
    if not_done:
        states = Counter(str(jobs[i].state) for i in not_done)
        sample = [f"{i}: {jobs[i].state} attempt {jobs[i].attempt}" for i in not_done[:5]]
        figures.problems.append(
            f"{len(not_done)} jobs did not complete ({dict(states)}), e.g. {sample}"
        )
    for i in failed[:3]:
        figures.problems.append(f"job {i} failed: {jobs[i].error}")

    runs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for job_id, attempt, pid in chaos_app.executions(fleet.exec_dir):
        runs[job_id].append((attempt, pid))
    killed = fleet.killed_pids
    strangers = sorted(set(runs) - ids)
    if strangers:
        figures.problems.append(f"executions of jobs that do not exist: {strangers[:10]}")
    unexplained: list[int] = []
    for job_id, execs in runs.items():
        execs.sort()
        extra = execs[:-1]
        figures.duplicates += len(extra)
        in_killed = sum(1 for _, pid in extra if pid in killed)
        figures.explained += in_killed
        figures.unexplained += len(extra) - in_killed
        if len(extra) > in_killed:
            unexplained.append(job_id)
    ghosts = [
        i
        for i, job in jobs.items()
        if job.state == JobState.COMPLETED and job.attempt not in {a for a, _ in runs.get(i, [])}
    ]
    if ghosts:
        figures.problems.append(
            f"{len(ghosts)} jobs completed without their completing attempt's body having "
            f"run, e.g. {ghosts[:10]}"
        )
    broken = broken_histories(app, jobs)
    if broken:
        figures.problems.append(
            f"{len(broken)} completed jobs have an execution history that does not end in "
            f"exactly one completed attempt (their last), e.g. {broken[:3]}"
        )
    if figures.duplicates and not duplicates_allowed:
        dup_ids = sorted(i for i, e in runs.items() if len(e) > 1)
        figures.problems.append(
            f"{figures.duplicates} duplicate executions in {len(dup_ids)} jobs, "
            f"e.g. {describe_runs(app, dup_ids[:3], runs, fleet)}"
        )
    elif unexplained:
        figures.problems.append(
            f"{figures.unexplained} duplicate executions not explained by a kill, in "
            f"{len(unexplained)} jobs, e.g. {describe_runs(app, unexplained[:3], runs, fleet)}"
        )

    bad = fleet.bad_exits()
    figures.bad_exits = len(bad)
    figures.problems += bad
    figures.log_records = fleet.busiest_log()
    if figures.log_records > MAX_LOG_RECORDS:
        figures.problems.append(
            f"a worker wrote {figures.log_records} log records (more than {MAX_LOG_RECORDS}): "
            "something retries in a tight loop"
        )

    finished = [j.finished_at.timestamp() for j in jobs.values() if j.finished_at is not None]
    if finished and not figures.lost:
        last = max(finished)
        figures.total_s = last - started
        if last_fault is not None:
            figures.recover_s = max(0.0, last - last_fault)


def broken_histories(app: Hourhand, jobs: dict[int, Job], sample: int = 50) -> list[str]:
    """Check the recorded attempts of the completed jobs the chaos touched (more than one
    attempt; at most HISTORY_CHECKS of them) and of a sample of the others: exactly one
    attempt completed, it is the last one recorded, and it is the job's current attempt.
    (A completion recorded twice, or a rescue recorded after the completion, breaks it.)"""
    completed = [j for j in jobs.values() if j.state == JobState.COMPLETED]
    touched = [j for j in completed if j.attempt > 1][:HISTORY_CHECKS]
    others = [j for j in completed if j.attempt <= 1]
    broken = []
    for job in touched + random.sample(others, min(sample, len(others))):
        history = app.attempts(job.id)
        done = [a for a in history if a.outcome == Outcome.COMPLETED]
        last = history[-1] if history else None
        if (
            len(done) != 1
            or last is None
            or last.outcome != Outcome.COMPLETED
            or last.attempt != job.attempt
        ):
            rows = [f"{a.attempt}:{a.outcome}" for a in history]
            broken.append(f"job {job.id} (attempt {job.attempt}): {rows}")
    return broken


def describe_runs(
    app: Hourhand, ids: list[int], runs: dict[int, list[tuple[int, int]]], fleet: Fleet
) -> str:
    fates = {m.pid: f"worker{m.index}/{m.fate}" for m in fleet.members}
    parts = []
    for job_id in ids:
        execs = [f"attempt {a} in pid {p} ({fates.get(p, '?')})" for a, p in runs[job_id]]
        try:
            history = [f"{a.attempt}:{a.outcome}" for a in app.attempts(job_id)]
        except Exception as exc:
            history = [f"(attempts unavailable: {exc})"]
        parts.append(f"job {job_id}: ran {execs}; attempts {history}")
    return "; ".join(parts)


def verdict(figures: Figures, fleet: Fleet, *extra: str) -> str:
    """The assertion message: the figures, what went wrong, and the logs."""
    lines = [
        f"chaos scenario {figures.scenario} on {figures.store}:",
        Figures.header(),
        figures.line(),
        *[f"note: {n}" for n in figures.notes],
        "problems:",
        *[f"  - {p}" for p in figures.problems],
        *extra,
        fleet.report(),
    ]
    return "\n".join(lines)
