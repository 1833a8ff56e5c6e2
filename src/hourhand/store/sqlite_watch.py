"""How SQLite workers learn of changes without notifications: a watcher of ``PRAGMA
data_version`` (it changes when another connection commits), which also reads the paused
queues and the cancel requests after a change, at most so often."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from typing import TYPE_CHECKING

from hourhand.errors import DatabaseUnavailable
from hourhand.store.base import Watcher
from hourhand.store.sqlite_util import _one

if TYPE_CHECKING:
    from hourhand.store.sqlite import SQLiteStore

logger = logging.getLogger(__name__)

CHANGE_POLL_INTERVAL = 0.01  # seconds between PRAGMA data_version checks while idle
CANCEL_CHECK_INTERVAL = 0.5  # at most this often, a changed file is read for cancel requests
# Seconds between looks at the paused queues after commits: a look at every commit costs a
# busy worker several percent (a read transaction on the file each time).
QUEUES_LOOK_INTERVAL = 0.2
WATCH_ERROR_BACKOFF = 1.0  # seconds a watcher waits after a failed look at the file


class ChangeWatcher(Watcher):
    """Watches ``PRAGMA data_version`` on a connection of its own: it changes when another
    connection commits. The last version seen is kept between calls, so no change made
    between two waits is missed."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._failing = False
        self._changed_since_check = True  # so the first call looks
        self._checked_at = 0.0
        self._paused: list[str] | None = None  # the paused queues last seen
        self._queues_changed = True
        self._unlooked = False  # a commit happened since the last look at the queues
        self._looked_at = 0.0  # monotonic

    def _read_version(self) -> int:
        if self._conn is None:
            self._conn = self._store._open()
        return int(_one(self._conn.execute("PRAGMA data_version"))["data_version"])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                version = self._read_version()
            except (sqlite3.Error, DatabaseUnavailable) as exc:
                if not self._failing:
                    logger.warning("cannot watch %s for changes: %s", self._store.path, exc)
                    self._failing = True
                self.close()
                time.sleep(min(WATCH_ERROR_BACKOFF, max(0.0, deadline - time.monotonic())))
                return False
            if self._failing:
                logger.warning("watching %s for changes again", self._store.path)
                self._failing = False
                self._version = version
                self._queues_changed = True
                return True  # changes may have been missed meanwhile
            if self._version is None:
                self._version = version
            elif version != self._version:
                self._version = version
                self._changed_since_check = True
                self._unlooked = True
                self._look_at_queues()
                return True
            self._look_at_queues()  # one put off
            if time.monotonic() >= deadline or self._store._closed:
                return False
            time.sleep(CHANGE_POLL_INTERVAL)

    def _look_at_queues(self) -> None:
        """After commits: whether they paused or resumed a queue (a small read: the paused
        queues are few), at most every QUEUES_LOOK_INTERVAL."""
        now = time.monotonic()
        if not self._unlooked or now - self._looked_at < QUEUES_LOOK_INTERVAL:
            return
        self._unlooked, self._looked_at = False, now
        assert self._conn is not None
        try:
            rows = self._conn.execute(self._store.q["paused_queues"]).fetchall()
        except sqlite3.Error:
            self._queues_changed = True  # cannot tell: have them read again
            return
        paused = sorted(r["name"] for r in rows)
        if paused != self._paused:
            self._queues_changed = True
            self._paused = paused

    def cancel_requests(self) -> list[int]:
        """Running jobs whose cancellation was requested, read at most every
        CANCEL_CHECK_INTERVAL and only after the file changed (SQLite has no notifications;
        without this a cancel would wait for the next heartbeat)."""
        now = time.monotonic()
        if not self._changed_since_check or now - self._checked_at < CANCEL_CHECK_INTERVAL:
            return []
        self._changed_since_check = False
        self._checked_at = now
        if self._conn is None:
            return []
        try:
            return [row["id"] for row in self._conn.execute(self._store.q["cancel_requested"])]
        except sqlite3.Error:
            self._changed_since_check = True  # look again next time
            return []

    def queues_changed(self) -> bool:
        changed, self._queues_changed = self._queues_changed, False
        return changed

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._version = None  # versions of different connections do not compare
