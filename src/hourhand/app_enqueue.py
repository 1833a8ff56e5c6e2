"""Enqueueing, the producer's side of :class:`hourhand.app.Hourhand` (a mixin of it):
``hh.enqueue``, ``enqueue_many`` and their async forms, and ``new_job``, which checks a
request against the registry (the scheduler's runs go through it too)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hourhand import checks
from hourhand.errors import InvalidInput
from hourhand.jobs import (
    MAX_ATTEMPTS,
    EnqueueResult,
    JobSpec,
    NewJob,
    check_priority,
    check_timeout,
    encode_args,
)
from hourhand.store import Store

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 1000  # characters in a unique key


class Enqueueing:
    """``hh.enqueue``, ``enqueue_many``, ``enqueue_async``, ``enqueue_many_async``,
    ``new_job``."""

    if TYPE_CHECKING:  # what the mixin uses of Hourhand

        @property
        def store(self) -> Store: ...

        def spec(self, name: str) -> JobSpec: ...

    # -- enqueue --------------------------------------------------------------------------
    def enqueue(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        unique_key: str | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
        connection: Any = None,
    ) -> EnqueueResult:
        """Add a job; returns its id (an :class:`~hourhand.jobs.EnqueueResult`: an int with
        ``.created``). Durable when it returns.

        With ``unique_key``, while a job of this type (and org) with the same key is
        waiting or running, that job's id is returned with ``created=False`` and nothing is
        added or changed: this call's args, delay, priority and other options are dropped.

        With ``connection`` (your own open connection to hourhand's database: a psycopg 3
        connection on PostgreSQL, an ``sqlite3`` one on SQLite), the job is inserted in
        *your* transaction: it exists, and workers see it, when you commit, and never if
        you roll back (the "outbox" problem solved: an order and the job that mails its
        receipt commit together). Durable when you commit."""
        job = self.new_job(
            name,
            args,
            delay=delay,
            run_at=run_at,
            priority=priority,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
            unique_key=unique_key,
            org_id=org_id,
            created_by=created_by,
        )
        if connection is not None:
            job_id, created = self.store.insert_job_on(connection, job)
        else:
            job_id, created = self.store.insert_job(job)
        if not created:
            logger.info("job %s: unique key already held by job %d; nothing enqueued", name, job_id)
        return EnqueueResult(job_id, created)

    def enqueue_many(
        self,
        name: str,
        args_list: Iterable[Mapping[str, Any]],
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
        connection: Any = None,
    ) -> list[int]:
        """Add one job of type ``name`` per args mapping, in one statement; ids in order.
        Every item is checked (names and type hints) before any is stored. ``connection``:
        in your transaction, as for :meth:`enqueue`."""
        items = [{} if args is None else args for args in args_list]
        if not items:
            return []
        spec = self.spec(name)
        try:
            encoded = [encode_args(name, args) for args in items]
        except InvalidInput:
            for index, args in enumerate(items):  # say which item: rare, so found again
                try:
                    encode_args(name, args)
                except InvalidInput as exc:
                    raise type(exc)(f"item {index}: {exc}") from None
            raise
        spec.check_args_many(items, encoded)
        first = self.new_job(
            name,
            items[0],
            delay=delay,
            run_at=run_at,
            priority=priority,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
            org_id=org_id,
            created_by=created_by,
        )
        if connection is not None:
            return self.store.insert_alike_on(connection, first, encoded)
        return self.store.insert_alike(first, encoded)

    async def enqueue_async(
        self, name: str, args: Mapping[str, Any] | None = None, **options: Any
    ) -> EnqueueResult:
        """:meth:`enqueue` for async callers (the database call runs in a thread; so no
        ``connection``: yours belongs to your thread, call :meth:`enqueue` with it)."""
        if options.get("connection") is not None:
            raise InvalidInput("enqueue_async takes no connection: call enqueue")
        return await asyncio.to_thread(self.enqueue, name, args, **options)

    async def enqueue_many_async(
        self, name: str, args_list: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[int]:
        if options.get("connection") is not None:
            raise InvalidInput("enqueue_many_async takes no connection: call enqueue_many")
        return await asyncio.to_thread(self.enqueue_many, name, list(args_list), **options)

    def new_job(
        self,
        name: str,
        args: Mapping[str, Any] | None,
        *,
        delay: float | timedelta | None = None,
        run_at: datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        unique_key: str | None = None,
        org_id: str | None = None,
        created_by: str | None = None,
        schedule_id: int | None = None,
        fire_time: datetime | None = None,
    ) -> NewJob:
        """Validate an enqueue request against the registry; raise a clear error if wrong."""
        spec = self.spec(name)
        args_json = encode_args(name, args)
        # A schedule's run is checked against its arguments alone (jobs.CheckDepth): a run
        # that could not be checked against this process's settings is better run, and
        # failed with its reason, than skipped.
        spec.check_args(args or {}, args_json, depth="all" if schedule_id is None else "args")
        if max_attempts is not None:
            checks.integer("max_attempts", max_attempts, 1, MAX_ATTEMPTS)
        if timeout is not None:
            check_timeout("timeout", timeout)
        if unique_key is not None:
            checks.text("unique_key", unique_key, max_length=MAX_KEY_LENGTH)
        return NewJob(
            name=name,
            args_json=args_json,
            queue=checks.text("queue", queue) if queue is not None else spec.queue,
            priority=check_priority(priority) if priority is not None else spec.priority,
            max_attempts=max_attempts or spec.max_attempts,
            run_at=_run_at(delay, run_at),
            timeout=float(timeout) if timeout is not None else spec.timeout,
            unique_key=unique_key,
            org_id=_check_optional("org_id", org_id),
            created_by=_check_optional("created_by", created_by),
            schedule_id=schedule_id,
            fire_time=fire_time,
        )


def _run_at(delay: float | timedelta | None, run_at: datetime | None) -> datetime | None:
    if delay is not None and run_at is not None:
        raise InvalidInput("give either delay or run_at, not both")
    if delay is not None:
        seconds = checks.seconds(
            "delay", delay.total_seconds() if isinstance(delay, timedelta) else delay
        )
        if seconds == 0:
            return None
        return datetime.now(UTC) + timedelta(seconds=seconds)
    if run_at is not None:
        if not isinstance(run_at, datetime):
            raise InvalidInput(f"run_at must be a datetime, got {type(run_at).__name__}")
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise InvalidInput(
                "run_at is a naive datetime: give it a time zone, e.g. datetime.now(UTC)"
            )
        return run_at.astimezone(UTC)
    return None


def _check_optional(what: str, value: str | None) -> str | None:
    return None if value is None else checks.text(what, value)
