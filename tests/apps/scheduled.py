"""An app for scheduler subprocesses in tests: one every-minute schedule."""

from __future__ import annotations

from hourhand import Hourhand, JobContext

hh = Hourhand()  # database from --database


@hh.cron("* * * * *", name="tick", overlap="allow")
async def tick(ctx: JobContext) -> None:
    return None
