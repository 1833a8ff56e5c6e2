"""Failures that come in runs (a database restarting, a network cut): log the start of a run
once and its end once, and wait between tries with jittered exponential backoff."""

from __future__ import annotations

import logging
import random
import time

from hourhand.errors import DatabaseUnavailable

# jitter from a generator of our own: the global `random` state belongs to the application
_jitter = random.Random()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Backoff:
    """Waits that double from ``first`` up to ``longest`` seconds, each spread by jitter."""

    def __init__(self, first: float = 0.1, longest: float = 5.0) -> None:
        self.first = first
        self.longest = longest
        self._next = first

    def next(self) -> float:
        wait = self._next * _jitter.uniform(0.5, 1.0)
        self._next = min(self._next * 2, self.longest)
        return wait

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """One kind of operation (heartbeats, recording completions) failing for a while.

    The first failure is logged as a warning (with its traceback unless the database is
    simply unavailable), later ones at debug level, and the recovery once."""

    def __init__(self, what: str, logger: logging.Logger) -> None:
        self.what = what
        self.logger = logger
        self.since: float | None = None
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            expected = isinstance(exc, DatabaseUnavailable)
            self.logger.warning(
                "%s failed: %s; retrying until it works",
                self.what,
                first_line(exc),
                exc_info=None if expected else exc,
            )
        else:
            self.logger.debug("%s failed again: %s", self.what, first_line(exc))

    def ok(self) -> None:
        if self.since is not None:
            self.logger.warning(
                "%s works again after %.1fs (%d failed tries)",
                self.what,
                time.monotonic() - self.since,
                self.failures,
            )
            self.since = None
            self.failures = 0
