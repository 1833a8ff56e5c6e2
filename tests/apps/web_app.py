"""An app for the REST API tests (in process, and served by ``hourhand serve``)."""

from __future__ import annotations

import asyncio

from hourhand import Hourhand, JobContext, Retry


def define(hh: Hourhand) -> Hourhand:
    """Register the test job types on ``hh``."""

    @hh.job("add")
    def add(ctx: JobContext, a: int, b: int) -> int:
        return a + b

    @hh.job("mail", queue="mail")
    async def mail(ctx: JobContext, to: str) -> str:
        return f"sent to {to}"

    @hh.job("slow", queue="slow")
    async def slow(ctx: JobContext, seconds: float = 0.1) -> str:
        await asyncio.sleep(seconds)
        return "done"

    @hh.job("broken", retry=Retry.none())
    def broken(ctx: JobContext) -> None:
        raise ValueError("the report has no rows")

    return hh


hh = define(Hourhand())  # database from --database / HOURHAND_DATABASE
