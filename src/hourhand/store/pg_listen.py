"""How a PostgreSQL store's watchers hear of work: LISTEN on a connection of their own, or,
behind a transaction pooler with no direct connection, nothing (the worker polls)."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from typing import Any

import psycopg

from hourhand.outage import first_line
from hourhand.store.base import CANCEL_CHANNEL, QUEUES_CHANNEL, Watcher

logger = logging.getLogger(__name__)
# jitter from a generator of our own: the global `random` state belongs to the application
_jitter = random.Random()

LISTEN_BACKOFF = (0.1, 5.0)  # seconds: first and longest wait before reconnecting the listener


class Polling(Watcher):
    """For a store behind a transaction pooler with no direct connection to LISTEN on:
    never woken, so the worker finds work by polling (every ``poll_interval``), ``hh.wait``
    looks every second, and cancellations of running jobs come with the heartbeats."""

    def __init__(self) -> None:
        self._closed = threading.Event()
        self._queues_changed = True  # read the paused queues once at start; then every 2 s

    def wait(self, timeout: float) -> bool:
        self._closed.wait(timeout)
        return False

    def cancel_requests(self) -> list[int]:
        return []

    def queues_changed(self) -> bool:
        changed, self._queues_changed = self._queues_changed, False
        return changed

    def close(self) -> None:
        self._closed.set()


class Listener(Watcher):
    """LISTENs on a connection of its own (to the store's listen URL if it has one). While
    the database is away it reconnects with jittered exponential backoff, and says so once
    when the connection is lost and once when it is back."""

    def __init__(self, url: str, kwargs: dict[str, Any], channels: tuple[str, ...]) -> None:
        self._url = url
        self._kwargs = kwargs
        self._channels = channels
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._cancels: list[int] = []
        self._queues_changed = True
        self._backoff = 0.0
        self._retry_at = 0.0
        self._lost_at: float | None = None
        self._closed = False

    def wait(self, timeout: float) -> bool:
        if self._closed:
            return False
        if self._conn is None:
            now = time.monotonic()
            if now < self._retry_at:
                time.sleep(min(timeout, self._retry_at - now))
                return False
            try:
                conn = psycopg.connect(self._url, **self._kwargs)
                for channel in self._channels:
                    conn.execute(f"LISTEN {channel}")
            except psycopg.Error as exc:
                self._lost(exc)
                return False
            self._conn = conn
            self._queues_changed = True  # a change may have gone unheard meanwhile
            if self._lost_at is not None:
                logger.warning("notification connection restored after %.1fs", now - self._lost_at)
                self._lost_at = None
                return True  # work may have arrived while it was away
        try:
            woken = False
            for note in self._conn.notifies(timeout=timeout, stop_after=1):
                if note.channel == CANCEL_CHANNEL:
                    self._cancels.append(int(note.payload))
                elif note.channel == QUEUES_CHANNEL:
                    self._queues_changed = True
                woken = True
            return woken
        except psycopg.Error as exc:
            self._lost(exc)
            return False

    def _lost(self, exc: psycopg.Error) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._closed:
            return
        first, longest = LISTEN_BACKOFF
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            self._backoff = first
            logger.warning(
                "lost the notification connection (%s); polling until it is back",
                first_line(exc),
            )
        else:
            self._backoff = min(self._backoff * 2, longest)
        self._retry_at = time.monotonic() + self._backoff * _jitter.uniform(0.5, 1.0)

    def cancel_requests(self) -> list[int]:
        found, self._cancels = self._cancels, []
        return found

    def queues_changed(self) -> bool:
        changed, self._queues_changed = self._queues_changed, False
        return changed

    def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
