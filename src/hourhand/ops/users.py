"""Dashboard users: made by admins (``hourhand users create``), signed in by name and
password, disabled when they leave.

A password is kept as its argon2id hash (argon2-cffi's ``PasswordHasher``, RFC 9106's
parameters), never as itself. Signing in answers every failure (no such user, a wrong
password, a disabled user) with the same :class:`NotAuthenticated` message, and verifies a
dummy hash when the user does not exist, so that neither the answer nor its time tells
which names exist. A user of an organisation (``org_id``) sees only its organisation, as an
organisation's API key does.

Also here: the key that signs the dashboard's session cookies. It is the setting
``[dashboard] secret_key`` (``HOURHAND_DASHBOARD_SECRET_KEY``) if set, else a random key
made once and kept in ``hourhand_secrets``, so that every API replica on the database signs
and checks sessions alike.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hourhand import checks
from hourhand.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from hourhand.ops.actor import ROLES, Actor, Role
from hourhand.ops.audit import Audit
from hourhand.store.records import User

if TYPE_CHECKING:
    from hourhand.app import Hourhand

logger = logging.getLogger(__name__)

BAD_SIGN_IN = "unknown user or wrong password"  # the one answer for every failure
MIN_PASSWORD = 8  # characters
MAX_PASSWORD = 1024  # characters: argon2 hashes any length, but a megabyte is no password
SECRET_KEY_ENV = "HOURHAND_DASHBOARD_SECRET_KEY"  # noqa: S105 (a variable's name)
SECRET_KEY_NAME = "dashboard.session_key"  # noqa: S105 (its row in hourhand_secrets)
MIN_SECRET_KEY = 32  # characters of a configured key

_hasher = PasswordHasher()  # argon2id; RFC 9106's low-memory profile (64 MiB, t=3, p=4)


def hash_password(password: str) -> str:
    """The argon2id hash of a password, in the PHC string form that carries its
    parameters and salt."""
    return _hasher.hash(password)


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    problem = checks.text_problem(password)
    if problem:
        raise InvalidInput(f"the password {problem}")
    return password


class UserOps:
    """``hh.ops.users``: create, list, disable users and set their passwords (admins);
    sign in."""

    def __init__(self, app: Hourhand) -> None:
        self.app = app
        self.audit = Audit(app)
        self._dummy: str | None = None
        self._key: bytes | None = None
        self._key_lock = threading.Lock()

    def create(
        self,
        actor: Actor,
        name: str,
        role: Role | str,
        password: str,
        org_id: str | None = None,
    ) -> User:
        """A new user. An organisation's admin makes users of its own organisation only;
        Conflict if the organisation has a user of that name."""
        actor.require(Role.ADMIN, "creating users")
        checks.text("user name", name)
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if org_id is not None:
            checks.text("organisation", org_id)
        if actor.org_id is not None:
            if org_id is not None and org_id != actor.org_id:
                raise Forbidden(
                    f"an admin of organisation {actor.org_id!r} can only create users of it"
                )
            org_id = actor.org_id
        check_password(password)
        made = self.app.store.records.insert_user(
            name, org_id, str(role), hash_password(password), actor.label
        )
        self.audit.record(
            actor,
            "user.create",
            "user",
            made.id,
            org_id=made.org_id,
            details={"name": made.name, "role": made.role},
        )
        return made

    def list(self, actor: Actor, org_id: str | None = None) -> list[User]:
        """Users (disabled ones too; never their hashes): an organisation's admin sees its
        organisation's, a cluster admin every user or one organisation's."""
        actor.require(Role.ADMIN, "listing users")
        if actor.asks_elsewhere(org_id):
            return []
        return self.app.store.records.list_users(actor.scope(org_id))

    def disable(self, actor: Actor, name: str, org_id: str | None = None) -> User:
        """Disable a user at once: it cannot sign in, and its sessions stop at their next
        request. Another organisation's user is not found."""
        actor.require(Role.ADMIN, "disabling users")
        user = self._find(actor, name, org_id)
        records = self.app.store.records
        if user.disabled:
            return user
        disabled = records.disable_user(user.id)
        if disabled is None:  # deleted meanwhile (nothing deletes users yet)
            raise NotFound(f"no user {name!r}")
        self.audit.record(
            actor, "user.disable", "user", user.id, org_id=user.org_id, details={"name": name}
        )
        return disabled

    def set_password(
        self, actor: Actor, name: str, password: str, org_id: str | None = None
    ) -> User:
        """Give a user a new password (an admin, of the user's organisation or the
        cluster). Sessions signed in before keep going until they expire: disable the user
        to end them at once."""
        actor.require(Role.ADMIN, "setting passwords")
        user = self._find(actor, name, org_id)
        check_password(password)
        changed = self.app.store.records.set_user_password(user.id, hash_password(password))
        if changed is None:  # deleted meanwhile (nothing deletes users yet)
            raise NotFound(f"no user {name!r}")
        self.audit.record(
            actor, "user.password", "user", user.id, org_id=user.org_id, details={"name": name}
        )
        return changed

    def _find(self, actor: Actor, name: str, org_id: str | None) -> User:
        """The user ``name`` of ``org_id`` as ``actor`` may see it (NotFound otherwise)."""
        if actor.org_id is not None:
            if org_id is not None and org_id != actor.org_id:
                raise NotFound(f"no user {name!r}")
            org_id = actor.org_id
        found = self.app.store.records.find_user(name, org_id)
        if found is None:
            where = f" in organisation {org_id!r}" if org_id is not None else ""
            raise NotFound(f"no user {name!r}{where}")
        return found[0]

    def authenticate(
        self, name: str, org_id: str | None, password: str, address: str | None = None
    ) -> Actor:
        """The actor a name (in an organisation, None: a cluster user) and password stand
        for. Every failure raises the same NotAuthenticated."""
        if not name or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            self._verify_dummy(password if isinstance(password, str) else "")
            raise NotAuthenticated(BAD_SIGN_IN)
        if checks.text_problem(name) or (org_id and checks.text_problem(org_id)):
            raise NotAuthenticated(BAD_SIGN_IN)
        records = self.app.store.records
        found = records.find_user(name, org_id or None)
        if found is None:
            self._verify_dummy(password)
            raise NotAuthenticated(BAD_SIGN_IN)
        user, stored = found
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise NotAuthenticated(BAD_SIGN_IN) from None
        if user.disabled:
            raise NotAuthenticated(BAD_SIGN_IN)
        rehash = hash_password(password) if _hasher.check_needs_rehash(stored) else None
        try:
            records.user_signed_in(user.id, rehash)
        except Exception as exc:  # the sign-in stands
            logger.warning("could not note the sign-in of user %d: %s", user.id, type(exc).__name__)
        actor = self._actor(user, address)
        self.audit.record(actor, "user.sign_in", "user", user.id, org_id=user.org_id)
        return actor

    def session_actor(self, user_id: int, address: str | None = None) -> Actor | None:
        """The actor of a signed-in session's user, or None if the user is gone or
        disabled (looked up on every request, so disabling takes effect at once)."""
        user = self.app.store.records.get_user(user_id)
        if user is None or user.disabled:
            return None
        return self._actor(user, address)

    def secret_key(self) -> bytes:
        """The key that signs session cookies (see the module docstring)."""
        with self._key_lock:
            if self._key is None:
                self._key = self._load_key()
            return self._key

    def _load_key(self) -> bytes:
        configured = os.environ.get(SECRET_KEY_ENV) or self._configured_key()
        if configured:
            if len(configured) < MIN_SECRET_KEY:
                raise InvalidInput(
                    f"the dashboard's secret_key must be at least {MIN_SECRET_KEY} characters"
                )
            return configured.encode()
        records = self.app.store.records
        stored = records.get_secret(SECRET_KEY_NAME)
        if stored is None:
            stored = records.put_secret(SECRET_KEY_NAME, secrets.token_urlsafe(48))
        return stored.encode()

    def _configured_key(self) -> str | None:
        dashboard = self.app.settings.dashboard
        if dashboard is None or dashboard.secret_key is None:
            return None
        return dashboard.secret_key.get_secret_value() or None

    def _actor(self, user: User, address: str | None) -> Actor:
        return Actor(
            kind="user",
            name=user.name,
            role=Role(user.role),
            org_id=user.org_id,
            id=str(user.id),
            address=address,
        )

    def _verify_dummy(self, password: str) -> None:
        """Spend about the time a real check takes, for a user that does not exist."""
        if self._dummy is None:
            self._dummy = hash_password(secrets.token_urlsafe(16))
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            _hasher.verify(self._dummy, password[:MAX_PASSWORD] or "-")
