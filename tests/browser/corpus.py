"""Script-injection strings for the XSS tests: each is a template with ``{tag}`` (the field
it is placed in: "args", "error", ...), so that a string found on a page says where it came
from. None of them may run, load anything, or reach the HTML unescaped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from markupsafe import escape

from hourhand import Hourhand
from hourhand.jobs import JobState
from tests.browser import seed

EVIL_HOST = "evil.example"  # requests to it (or anywhere but the server) are recorded

TEMPLATES: tuple[str, ...] = (
    "<script>alert('{tag}')</script>",
    '"><img src=x onerror=alert("{tag}")>',
    "'><svg onload=alert('{tag}')>",
    "</textarea><svg onload=confirm('{tag}')>",
    "</title></style></script><script>prompt('{tag}')</script>",
    '" autofocus onfocus="alert(`{tag}`)" x="',
    "' onmouseover='alert(1)' data-{tag}='",
    "javascript:alert('{tag}')",
    "JaVaScRiPt:alert(document.domain)//{tag}",
    "data:text/html,<script>alert('{tag}')</script>",
    f'<img src="https://{EVIL_HOST}/{{tag}}.png">',
    f'<link rel="stylesheet" href="//{EVIL_HOST}/{{tag}}.css">',
    f'<meta http-equiv="refresh" content="0;url=https://{EVIL_HOST}/{{tag}}">',
    f'<base href="https://{EVIL_HOST}/{{tag}}/">',
    f'<iframe src="https://{EVIL_HOST}/{{tag}}"></iframe>',
    "<a href=\"javascript:alert('{tag}')\">click</a>",
    "<details open ontoggle=alert('{tag}')>",
    "<!--{tag}--><script>alert(1)</script><!--",
    "]]><x:script>alert('{tag}')</x:script>",
    "{{7*7}} ${7*7} <%= 7*7 %> {% print('{tag}') %}",
    "%3Cscript%3Ealert('{tag}')%3C/script%3E",
    "&lt;script&gt;alert('{tag}')&lt;/script&gt;",
    "\u202e<script>alert('{tag}')</script>\u202c",  # right-to-left override
    "\uff1cscript\uff1ealert('{tag}')\uff1c/script\uff1e",  # fullwidth < >
    "<scr\u200bipt>alert('{tag}')</scr\u200bipt>",  # a zero-width space inside
    "\u2028\u2029</script><script>alert('{tag}')</script>",  # JS line separators
    "\U0001f4a5<svg/onload=alert('{tag}')>\U0001f4a5",
)

# the fields the strings are placed in, for {tag}
FIELDS = (
    "args",  # a job's arguments (and a schedule's)
    "result",
    "error",
    "traceback",
    "progress",  # a running job's progress message
    "schedule",  # schedule names
    "org",  # organisation ids (of jobs, schedules, alerts; and the org user's own)
    "queue",
    "type",  # job type names
    "alert",  # alert summaries
    "user",  # the org user's name (shown as the one signed in)
)


def placed(template: str, tag: str) -> str:
    return template.replace("{tag}", tag)


def strings(tag: str) -> list[str]:
    """The corpus for one field."""
    return [placed(t, tag) for t in TEMPLATES]


def dangerous(text: str) -> bool:
    """Whether ``text`` would be markup if it reached the HTML unescaped."""
    return any(ch in text for ch in "<>\"'")


def escaped_forms(text: str) -> list[str]:
    """How ``text`` may appear in a page that escapes it: as text, or inside JSON shown
    as text (pretty-printed args and results)."""
    in_json = json.dumps(text, ensure_ascii=False)[1:-1]
    forms = {str(escape(text)), str(escape(in_json))}
    return sorted(forms)


# the organisation of the org user of the XSS tests, and its name: injections themselves
EVIL_ORG = placed(TEMPLATES[1], "org")
EVIL_USER = placed(TEMPLATES[0], "user")
EVIL_PASSWORD = seed.PASSWORD


@dataclass
class Evil:
    """What :func:`plant` made: the pages' placeholders, and every string it placed."""

    seeded: seed.Seeded
    placed: dict[str, list[str]] = field(default_factory=dict)  # field -> its strings


def plant(hh: Hourhand) -> Evil:
    """The corpus in every field, all in organisation EVIL_ORG (which the org user sees
    whole), plus rows in each organisation named by the corpus (the admin sees them).

    The ``{job_id}`` pages are a failed, a completed and a running job that each carry the
    whole corpus (args, error, traceback, result, progress); ``{schedule_id}`` a schedule
    with the corpus in its args; ``{alert_id}`` an alert with it in its details."""
    by = {tag: strings(tag) for tag in FIELDS}
    org = EVIL_ORG
    evil = Evil(seed.Seeded(), by)
    jobs, schedules, alerts = evil.seeded.jobs, evil.seeded.schedules, evil.seeded.alerts
    all_args = {f"a{i}": text for i, text in enumerate(by["args"])}
    traceback = seed.traceback_of("\n".join(by["traceback"]), where=by["traceback"][0])
    whole = seed.Outcomes(
        result={f"r{i}": text for i, text in enumerate(by["result"])},
        error="\n".join(by["error"]),
        traceback=traceback,
        progress=(33.0, " ".join(by["progress"])[:1000]),
    )
    jobs["failed"] = seed.job(
        hh, JobState.FAILED, "echo", {"data": all_args}, org_id=org, outcomes=whole
    )
    jobs["completed"] = seed.job(
        hh, JobState.COMPLETED, "echo", {"data": all_args}, org_id=org, outcomes=whole
    )
    jobs["running"] = seed.job(
        hh, JobState.RUNNING, "echo", {"data": all_args}, org_id=org, outcomes=whole
    )
    for i, template in enumerate(TEMPLATES):
        one = seed.Outcomes(
            result=by["result"][i],
            error=by["error"][i],
            traceback=seed.traceback_of(by["traceback"][i]),
            progress=(50.0, by["progress"][i]),
        )
        args = {"text": by["args"][i]}
        queue = by["queue"][i]
        for state in (JobState.FAILED, JobState.COMPLETED, JobState.RUNNING):
            seed.job(hh, state, "echo", args, queue=queue, org_id=org, outcomes=one)
        seed.job(hh, JobState.QUEUED, "echo", args, queue=queue, org_id=placed(template, "org"))
        seed.raw_job(hh, by["type"][i], args, queue=queue, org_id=org)
        sid = seed.schedule(
            hh, by["schedule"][i], job="echo", cron="*/5 * * * *", tz="UTC", args=args, org_id=org
        )
        seed.alert(
            hh,
            by["alert"][i],
            rule=f"evil-{i}",
            key=f"queue:{queue}",
            org_id=org,
            details={"queue": queue},
        )
        if i == 0:
            hh.ops.schedules.update(seed.SEEDER, sid, args={"text": "", "data": all_args})
            hh.ops.schedules.trigger(seed.SEEDER, sid)
            schedules["evil"] = sid
    alerts["evil"] = seed.alert(
        hh,
        " ".join(by["alert"])[:1000],
        rule="evil-all",
        key="queue:all",
        org_id=org,
        details={"args": all_args},
    )
    seed.worker_beat(hh, queues=tuple(by["queue"][:3]))
    seed.user(hh, EVIL_USER, "operator", org)
    by["user"] = [EVIL_USER]
    return evil
