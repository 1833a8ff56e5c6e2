"""The README's demo: this example served with its dashboard, and traffic that keeps the
charts moving. ``bash scripts/demo.sh`` runs it (from the repository root); by hand::

    cd examples/saas
    PYTHONPATH=../.. ../../.venv/bin/python -m examples.saas.demo [--port 8000] [--database URL]

It fills an empty database with the generator's data (seed.py), gives the dashboard user
``demo`` (a cluster admin) a new random password, prints where to sign in, and runs
``hourhand --app examples.saas.demo:hh serve``: the worker, the scheduler, the REST API
and the dashboard in one process.

The traffic is a job of its own, ``demo:traffic``, on a schedule every minute: it asks for
fifteen rounds of work spread over that minute, each a report of some organisation and now
and then a contacts import, and once in a while an import of a file that is not there (a
failure, in the dead-letter set). The organisations' users' daily, weekly and monthly
schedules (made by the generator) fire as they would in production.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import secrets
import socket
import sys

from examples.common.domain import Domain
from examples.saas.app import hh
from examples.saas.jobs import imports, reports
from examples.saas.seed import generate
from hourhand import JobContext
from hourhand.ops import Actor

DEMO_USER = "demo"
ROUNDS = 15  # rounds of work per minute: one every 4 seconds
MISSING_FILE = 999_999_999  # an upload no organisation has: its import fails


@hh.cron("* * * * *", name="demo:traffic", queue="demo", admin_only=True, max_attempts=1)
def traffic(ctx: JobContext) -> dict[str, int]:
    """A minute of work for the demo, spread over the minute (run at once when it starts)."""
    domain = Domain(hh.database_url)
    orgs = [row["id"] for row in domain.query("SELECT id FROM orgs ORDER BY id")]
    uploads = {
        row["org_id"]: int(row["id"])
        for row in domain.query(
            "SELECT id, org_id FROM files WHERE kind = 'upload' AND filename = 'contacts.csv'"
        )
    }
    rng = random.Random()
    made = 0
    for n in range(ROUNDS):
        org = rng.choice(orgs)
        delay = n * 60 / ROUNDS
        report = {"period": rng.choice(["day", "week", "month"]), "format": "csv"}
        hh.enqueue(reports.JOB_TYPE, report, delay=delay, org_id=org, created_by="demo")
        made += 1
        if n % 5 == 0 and org in uploads:
            args = {"file_id": uploads[org]}
            hh.enqueue(imports.JOB_TYPE, args, delay=delay, org_id=org, created_by="demo")
            made += 1
        if n == 7 and rng.random() < 0.5:
            args = {"file_id": MISSING_FILE}
            hh.enqueue(imports.JOB_TYPE, args, delay=delay, org_id=org, created_by="demo")
            made += 1
    return {"enqueued": made}


def ensure_data() -> None:
    """The generator's data, unless the database has it already."""
    domain = Domain(hh.database_url)
    try:
        has = domain.one("SELECT COUNT(*) AS n FROM orgs")
    except Exception:  # no table yet: a new database
        has = None
    if not has or not has["n"]:
        print("demo: generating the example's data (seed.py) ...", flush=True)
        generate(hh.database_url)


def demo_password() -> str:
    """A new random password for the dashboard user ``demo`` (made the first time)."""
    actor = Actor.app("demo")
    password = secrets.token_urlsafe(12)
    if any(u.name == DEMO_USER and u.org_id is None for u in hh.ops.users.list(actor)):
        hh.ops.users.set_password(actor, DEMO_USER, password)
    else:
        hh.ops.users.create(actor, DEMO_USER, "admin", password)
    return password


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The saas example, served with traffic.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database", help="default: HOURHAND_DATABASE, else sqlite:///demo.db")
    args = parser.parse_args(argv)
    if args.database:
        hh.database_url = args.database
    ensure_data()
    password = demo_password()
    hh.schedules.trigger(hh.schedules.find("demo:traffic").id)  # work at once, not in a minute
    hh.close()
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    if not loopback(shown):
        print(f"warning: the demo listens on {args.host}: anyone who reaches it can sign in")
    print(
        f"hourhand demo (examples/saas) on {hh.database_url}\n"
        f"  dashboard: http://{shown}:{args.port}/dashboard  "
        f"(sign in as {DEMO_USER}, password {password})\n"
        f"  API:       http://{shown}:{args.port}/openapi.json\n"
        "  new work every few seconds; Ctrl-C stops",
        flush=True,
    )
    command = ["-m", "hourhand", "--app", "examples.saas.demo:hh", "--database", hh.database_url]
    command += ["serve", "--host", args.host, "--port", str(args.port)]
    os.execv(sys.executable, [sys.executable, *command])  # noqa: S606  (becomes `hourhand serve`)


if __name__ == "__main__":
    main()
