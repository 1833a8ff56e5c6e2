"""An app for CLI tests."""

from __future__ import annotations

from hourhand import Hourhand, JobContext, Retry

hh = Hourhand()  # database from --database / HOURHAND_DATABASE


@hh.job("greet", queue="mail")
async def greet(ctx: JobContext, name: str) -> str:
    return f"hello {name}"


@hh.job("broken", retry=Retry.none())
def broken(ctx: JobContext) -> None:
    raise ValueError("the report has no rows")
