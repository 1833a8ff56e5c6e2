"""API keys: made here, shown once, kept as a digest, checked on every request.

A key reads ``hh_<prefix>_<secret>``: the prefix (12 hex digits) is public and finds the
key's row; the secret is 32 random bytes (``secrets.token_urlsafe``). The database keeps the
SHA-256 digest of the whole key, never the key. A fast hash is right here, unlike for
passwords: a key carries 256 bits of randomness, so there is nothing to guess from its
digest, and a slow hash (argon2, bcrypt) would only cost every request its time. Passwords
are low-entropy and need the slow kind.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hourhand import checks
from hourhand.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from hourhand.ops.actor import ROLES, Actor, Role
from hourhand.ops.audit import Audit
from hourhand.store.records import TOUCH_EVERY, ApiKey

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)

KEY_MARK = "hh"  # every key starts hh_
PREFIX_BYTES = 6  # 12 hex digits: the public part that finds the key
SECRET_BYTES = 32
MAX_KEY_LENGTH = 200  # characters: anything longer is not one of ours
CREATE_TRIES = 3  # a new prefix that is taken (one chance in 2**48 per key) is drawn again
BAD_KEY = "invalid API key"  # the one answer for a malformed, unknown or revoked key


def digest(key: str) -> str:
    """The hex SHA-256 of a key (see the module docstring for why SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        return None
    mark, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if mark != KEY_MARK or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


class KeyOps:
    """Create, list and revoke API keys (admins), and authenticate requests by key."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app
        self.audit = Audit(app)

    def create(
        self, actor: Actor, name: str, role: Role | str, org_id: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret form, which is shown this once and stored nowhere.
        An organisation's admin makes keys of its own organisation only."""
        actor.require(Role.ADMIN, "creating keys")
        checks.text("key name", name)
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if org_id is not None:
            checks.text("organisation", org_id)
        if actor.org_id is not None:
            if org_id is not None and org_id != actor.org_id:
                raise Forbidden(
                    f"an admin of organisation {actor.org_id!r} can only create keys of it"
                )
            org_id = actor.org_id
        for _ in range(CREATE_TRIES):
            prefix = secrets.token_hex(PREFIX_BYTES)
            key = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
            try:
                made = self.app.store.records.insert_key(
                    name, str(role), org_id, prefix, digest(key), actor.label
                )
                break
            except Conflict:
                continue
        else:
            raise Conflict("could not draw an unused key prefix; try again")
        self.audit.record(
            actor,
            "key.create",
            "key",
            made.id,
            org_id=made.org_id,
            details={"name": made.name, "role": made.role, "prefix": made.prefix},
        )
        return made, key

    def list(self, actor: Actor) -> list[ApiKey]:
        """Keys (revoked ones too; never their secrets): an organisation's admin sees its
        organisation's, a cluster admin every key."""
        actor.require(Role.ADMIN, "listing keys")
        return self.app.store.records.list_keys(actor.org_id)

    def revoke(self, actor: Actor, key_id: int) -> ApiKey:
        """Revoke a key at once: its next request is refused. Revoking a revoked key
        changes nothing. Another organisation's key is not found."""
        actor.require(Role.ADMIN, "revoking keys")
        checks.integer("key id", key_id, 1, checks.MAX_ID)
        records = self.app.store.records
        key = records.get_key(key_id)
        if key is None or not actor.sees(key.org_id):
            raise NotFound(f"no key with id {key_id}")
        if key.revoked:
            return key
        revoked = records.revoke_key(key_id)
        if revoked is None:  # deleted meanwhile (nothing deletes keys yet)
            raise NotFound(f"no key with id {key_id}")
        self.audit.record(
            actor,
            "key.revoke",
            "key",
            key_id,
            org_id=key.org_id,
            details={"name": key.name, "prefix": key.prefix},
        )
        return revoked

    def authenticate(self, token: str, address: str | None = None) -> Actor:
        """The actor a presented key stands for. A malformed, unknown or revoked key gets
        the same NotAuthenticated, so that an answer tells nothing about which it was."""
        prefix = split_key(token)
        if prefix is None:
            raise NotAuthenticated(BAD_KEY)
        presented = digest(token)
        found = self.app.store.records.find_key(prefix)
        if found is None:
            raise NotAuthenticated(BAD_KEY)
        key, stored = found
        if not hmac.compare_digest(presented, stored) or key.revoked:
            raise NotAuthenticated(BAD_KEY)
        self._touch(key)
        return Actor(
            kind="key",
            name=key.name,
            role=Role(key.role),
            org_id=key.org_id,
            id=str(key.id),
            address=address,
        )

    def _touch(self, key: ApiKey) -> None:
        """Note the key's use, at most about once a minute (the local clock decides whether
        to ask, the database's whether to write). A failure does not refuse the request."""
        used = key.last_used_at
        if used is not None and (datetime.now(UTC) - used).total_seconds() < TOUCH_EVERY:
            return
        try:
            self.app.store.records.touch_key(key.id)
        except Exception as exc:
            logger.warning("could not note the use of key %d: %s", key.id, type(exc).__name__)
