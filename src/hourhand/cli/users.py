"""``users create|list|disable``: the dashboard's users, as the command line (a cluster
admin) sees them. Passwords come on standard input, never as an argument (which the
process list and the shell's history would show)."""

from __future__ import annotations

import getpass
import sys

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, line, print_table, when
from hourhand.humanize import plural
from hourhand.ops.actor import ROLES, Actor
from hourhand.ops.users import MAX_PASSWORD
from hourhand.store import User

pass_settings = click.make_pass_decorator(Settings)


@cli.group()
def users() -> None:
    """Create, list and disable dashboard users, and set their passwords."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do.")
@click.option("--org", "org_id", help="Confine the user to this organisation.")
@click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    required=True,
    help="Read the password from standard input (its first line).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the user as JSON.")
@pass_settings
def create(
    settings: Settings,
    name: str,
    role: str,
    org_id: str | None,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Make user NAME, who signs in to the dashboard with the password read from standard
    input (only its argon2id hash is kept)."""
    if not password_stdin:
        raise click.UsageError("give the password on standard input with --password-stdin")
    password = _read_password()
    made = settings.app(create=True).ops.users.create(Actor.cli(), name, role, password, org_id)
    if as_json:
        echo_json(made.to_dict())
        return
    scope = f"organisation {made.org_id}" if made.org_id else "the whole cluster"
    line(f"user {made.name!r} created: {made.role} of {scope}")


@users.command("list")
@click.option("--org", "org_id", help="Only this organisation's users.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_users(settings: Settings, org_id: str | None, as_json: bool) -> None:
    """Every user, disabled ones too (never their password hashes)."""
    found = settings.app().ops.users.list(Actor.cli(), org_id)
    if as_json:
        echo_json([u.to_dict() for u in found])
        return
    print_table(USER_COLUMNS, [user_row(u) for u in found], plural(len(found), "user"))


@users.command("disable")
@click.argument("name")
@click.option("--org", "org_id", help="The user's organisation (none: a cluster user).")
@pass_settings
def disable(settings: Settings, name: str, org_id: str | None) -> None:
    """Disable user NAME: it cannot sign in, and its sessions stop at once."""
    user = settings.app().ops.users.disable(Actor.cli(), name, org_id)
    line(f"user {user.name!r} disabled at {when(user.disabled_at)} UTC")


@users.command("password")
@click.argument("name")
@click.option("--org", "org_id", help="The user's organisation (none: a cluster user).")
@click.option(
    "--password-stdin",
    "password_stdin",
    is_flag=True,
    required=True,
    help="Read the new password from standard input (its first line).",
)
@pass_settings
def password(settings: Settings, name: str, org_id: str | None, password_stdin: bool) -> None:
    """Give user NAME a new password (sessions signed in before last until they expire:
    disable the user to end them at once)."""
    if not password_stdin:
        raise click.UsageError("give the password on standard input with --password-stdin")
    new = _read_password()
    user = settings.app().ops.users.set_password(Actor.cli(), name, new, org_id)
    line(f"user {user.name!r}: new password set")


def _read_password() -> str:
    """The first line of standard input, without its line end."""
    if sys.stdin is None or sys.stdin.closed:
        raise click.UsageError("--password-stdin: standard input is closed")
    if sys.stdin.isatty():  # typed at a terminal: not echoed
        return getpass.getpass("password: ")
    raw = sys.stdin.readline(MAX_PASSWORD + 2)
    return raw.rstrip("\r\n")


USER_COLUMNS = (
    Column("id", "right"),
    Column("name", wrap=True),
    Column("org"),
    Column("role"),
    Column("created (UTC)"),
    Column("created by", wrap=True),
    Column("last sign-in (UTC)"),
    Column("state"),
)


def user_row(user: User) -> list[Cell]:
    return [
        str(user.id),
        user.name,
        user.org_id or "-",
        user.role,
        when(user.created_at),
        user.created_by or "-",
        when(user.last_login_at),
        f"disabled {when(user.disabled_at)}" if user.disabled else "active",
    ]
