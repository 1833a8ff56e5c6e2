"""The web app's own sign-in: passwords (scrypt) and refresh tokens.

A signed-in browser or API client holds a refresh token (in the ``homes_session`` cookie or
as ``Authorization: Bearer <token>``); the ``refresh_tokens`` table keeps its SHA-256, its
expiry and whether it was revoked, which is what RefreshTokenCleanup cleans up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from examples.common.domain import Domain, iso, now

SESSION_COOKIE = "homes_session"
TOKEN_DAYS = 30
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_ok(stored: str | None, password: str) -> bool:
    if not stored or stored.count("$") != 2:
        hash_password(password)  # about the same time whether or not the user exists
        return False
    _, salt, digest = stored.split("$")
    again = hash_password(password, bytes.fromhex(salt)).rsplit("$", 1)[1]
    return hmac.compare_digest(again, digest)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(d: Domain, email: str, password: str) -> str | None:
    """A new refresh token for the user with this e-mail and password, or None."""
    user = d.one("SELECT id, password_hash FROM users WHERE email = ?", (email,))
    ok = password_ok(None if user is None else user["password_hash"], password)
    if user is None or not ok:
        return None
    return issue_token(d, int(user["id"]))


def issue_token(d: Domain, user_id: int, days: float = TOKEN_DAYS) -> str:
    token = secrets.token_urlsafe(32)
    moment = now()
    d.insert(
        "refresh_tokens",
        {
            "user_id": user_id,
            "token_hash": _digest(token),
            "expires_at": iso(moment + timedelta(days=days)),
            "revoked_at": None,
            "created_at": iso(moment),
        },
    )
    return token


def revoke(d: Domain, token: str) -> None:
    d.execute(
        "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
        (iso(now()), _digest(token)),
    )


def user_of(d: Domain, token: str | None) -> dict[str, Any] | None:
    """The user a token signs in (not expired, not revoked), or None."""
    if not token:
        return None
    return d.one(
        "SELECT u.id, u.name, u.email, u.is_admin FROM refresh_tokens t"
        " JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?",
        (_digest(token), iso(now())),
    )


def token_of(authorization: str | None, cookie: str | None) -> str | None:
    """The token of a request: its Bearer header, else its session cookie."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return cookie or None
