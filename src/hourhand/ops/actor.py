"""Who is acting: an API key, a dashboard user, the CLI or the app's own code; with a role
and, for an organisation's key or user, the organisation it is confined to."""

from __future__ import annotations

import enum
import getpass
import socket
from dataclasses import dataclass

from hourhand.errors import Forbidden


class Role(enum.StrEnum):
    """What an actor may do: viewers read; operators also act on jobs and schedules;
    admins also manage keys, queues and system schedules."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANKS[self]


ROLE_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
ROLES = tuple(role.value for role in Role)
ACTOR_KINDS = ("key", "user", "cli", "app")


@dataclass(frozen=True)
class Actor:
    """The caller of an operation, for permission checks, organisation scope and the
    audit log."""

    kind: str  # one of ACTOR_KINDS
    name: str  # the key's or user's name, "user@host" for the CLI
    role: Role
    org_id: str | None = None  # None: cluster-wide; else confined to this organisation
    id: str | None = None  # the key's or user's id
    address: str | None = None  # where the request came from (HTTP client address)

    @classmethod
    def cli(cls) -> Actor:
        """The command line: an administrator of the whole cluster (whoever can run the
        CLI can read the database URL)."""
        return cls("cli", _login(), Role.ADMIN, address=socket.gethostname())

    @classmethod
    def app(cls, name: str = "app") -> Actor:
        """The application's own code, calling the operations layer in process."""
        return cls("app", name, Role.ADMIN)

    @property
    def label(self) -> str:
        """How the audit log names this actor: ``key:ops-bot``, ``cli:ana@host``."""
        return f"{self.kind}:{self.name}"

    def can(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def require(self, role: Role, action: str) -> None:
        """Raise Forbidden unless this actor's role is at least ``role``."""
        if not self.can(role):
            raise Forbidden(f"{action} needs the {role} role; this {self.kind} is a {self.role}")

    def asks_elsewhere(self, org_id: str | None) -> bool:
        """Whether a filter names an organisation this actor may not see."""
        return self.org_id is not None and org_id is not None and org_id != self.org_id

    def sees(self, org_id: str | None) -> bool:
        """Whether a row of organisation ``org_id`` (None: a system row) is visible."""
        return self.org_id is None or self.org_id == org_id

    def scope(self, org_id: str | None) -> str | None:
        """The organisation a listing is confined to: the actor's own if it has one,
        else the filter asked for. (A filter for another organisation must find nothing:
        callers check ``asks_elsewhere`` first.)"""
        return self.org_id if self.org_id is not None else org_id


def _login() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
