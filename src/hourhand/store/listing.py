"""SQL for the operators' listings (jobs by filter, queues with their counts), built for
both dialects from one description so that each filter given adds one condition and no
others: a state is written into the statement as a literal (an enum value, never user
text), so that the partial index of that state can serve the listing whatever the
history holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hourhand.jobs import JobState
from hourhand.store.base import JobFilter

ParamStyle = Callable[[str], str]  # name -> placeholder: %(name)s or :name
TimeParam = Callable[[datetime], Any]  # a datetime as the dialect stores it
MAX_COUNT = 100_000  # a count over a filter stops here (dry runs say "at least")


def like_escaped(text: str) -> str:
    """The text for LIKE ... ESCAPE '\\', its own wildcards escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(text: str) -> str:
    """``%text%`` in lower case, for ``lower(column) LIKE ... ESCAPE '\\'``."""
    return f"%{like_escaped(text.lower())}%"


def job_conditions(
    flt: JobFilter, p: ParamStyle, t: TimeParam, args_text: str
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (without the keyword) and its parameters. ``args_text`` is the
    dialect's expression for the args as text."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if flt.state is not None:
        where.append(f"state = '{JobState(flt.state).value}'")
    for column, value in (
        ("queue", flt.queue),
        ("name", flt.name),
        ("org_id", flt.org_id),
        ("schedule_id", flt.schedule_id),
    ):
        if value is not None:
            where.append(f"{column} = {p(column)}")
            params[column] = value
    if flt.created_after is not None:
        where.append(f"created_at >= {p('created_after')}")
        params["created_after"] = t(flt.created_after)
    if flt.created_before is not None:
        where.append(f"created_at < {p('created_before')}")
        params["created_before"] = t(flt.created_before)
    if flt.before_id is not None:
        where.append(f"id < {p('before_id')}")
        params["before_id"] = flt.before_id
    if flt.min_id is not None:
        where.append(f"id >= {p('min_id')}")
        params["min_id"] = flt.min_id
    if flt.error is not None:
        where.append(f"lower(error) LIKE {p('error')} ESCAPE '\\'")
        params["error"] = like_pattern(flt.error)
    if flt.error_class is not None:
        where.append(f"(error = {p('error_class')} OR error LIKE {p('error_prefix')} ESCAPE '\\')")
        params["error_class"] = flt.error_class
        params["error_prefix"] = like_escaped(flt.error_class) + ": %"
    if flt.args_text is not None:
        where.append(f"lower({args_text}) LIKE {p('args_text')} ESCAPE '\\'")
        params["args_text"] = like_pattern(flt.args_text)
    return " AND ".join(where) or "1 = 1", params


def list_jobs_sql(
    flt: JobFilter, p: ParamStyle, t: TimeParam, args_text: str
) -> tuple[str, dict[str, Any]]:
    """Jobs matching the filter, newest first, at most ``flt.limit``."""
    where, params = job_conditions(flt, p, t, args_text)
    params["limit"] = flt.limit
    return f"SELECT * FROM hourhand_jobs WHERE {where} ORDER BY id DESC LIMIT {p('limit')}", params


def count_jobs_sql(
    flt: JobFilter, p: ParamStyle, t: TimeParam, args_text: str
) -> tuple[str, dict[str, Any]]:
    """How many jobs match (stopping at MAX_COUNT + 1: "more than MAX_COUNT")."""
    where, params = job_conditions(flt, p, t, args_text)
    params["cap"] = MAX_COUNT + 1
    sql = (
        f"SELECT count(*) AS n FROM (SELECT 1 FROM hourhand_jobs WHERE {where} "
        f"LIMIT {p('cap')}) AS matched"
    )
    return sql, params
