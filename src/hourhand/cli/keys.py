"""``keys create|list|revoke``: API keys, as the command line (a cluster admin) sees them."""

from __future__ import annotations

import click

from hourhand.cli.main import Settings, cli
from hourhand.cli.output import Cell, Column, echo_json, line, print_table, when
from hourhand.humanize import plural
from hourhand.ops.actor import ROLES, Actor
from hourhand.ops.keys import KeyOps
from hourhand.store import ApiKey

pass_settings = click.make_pass_decorator(Settings)


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. ci-deploys.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What it may do.")
@click.option("--org", "org_id", help="Confine the key to this organisation.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": N, "key": "hh_..."}.')
@pass_settings
def create(settings: Settings, name: str, role: str, org_id: str | None, as_json: bool) -> None:
    """Make a key and print it, this once: only its digest is kept."""
    made, key = KeyOps(settings.app(create=True)).create(Actor.cli(), name, role, org_id)
    if as_json:
        echo_json({"id": made.id, "key": key, **_public(made)})
        return
    scope = f"organisation {made.org_id}" if made.org_id else "the whole cluster"
    click.echo(f"key {made.id} {made.name!r} created: {made.role} of {scope}")
    click.echo("store it now, it is not shown again:")
    click.echo(key)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def list_keys(settings: Settings, as_json: bool) -> None:
    """Every key, revoked ones too (never the keys themselves)."""
    found = KeyOps(settings.app()).list(Actor.cli())
    if as_json:
        echo_json([k.to_dict() for k in found])
        return
    print_table(KEY_COLUMNS, [key_row(k) for k in found], plural(len(found), "key"))


@keys.command("revoke")
@click.argument("key_id", metavar="ID", type=click.IntRange(min=1))
@pass_settings
def revoke(settings: Settings, key_id: int) -> None:
    """Revoke key ID: it is refused from its next request on."""
    key = KeyOps(settings.app()).revoke(Actor.cli(), key_id)
    line(f"key {key.id} {key.name!r} revoked at {when(key.revoked_at)} UTC")


def _public(key: ApiKey) -> dict[str, object]:
    out = key.to_dict()
    del out["id"]
    return out


KEY_COLUMNS = (
    Column("id", "right"),
    Column("name", wrap=True),
    Column("org"),
    Column("role"),
    Column("prefix"),
    Column("created (UTC)"),
    Column("created by", wrap=True),
    Column("last used (UTC)"),
    Column("state"),
)


def key_row(key: ApiKey) -> list[Cell]:
    return [
        str(key.id),
        key.name,
        key.org_id or "-",
        key.role,
        key.prefix,
        when(key.created_at),
        key.created_by or "-",
        when(key.last_used_at),
        f"revoked {when(key.revoked_at)}" if key.revoked else "active",
    ]
