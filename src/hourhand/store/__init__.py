"""Stores: where jobs live. ``open_store(url)`` picks the dialect from the URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from hourhand.errors import ConfigurationError
from hourhand.store.base import (
    AttemptEnd,
    Completion,
    HeartbeatResult,
    JobFilter,
    QueueInfo,
    Store,
    TypeClaim,
)

__all__ = [
    "AttemptEnd",
    "Completion",
    "HeartbeatResult",
    "JobFilter",
    "QueueInfo",
    "Store",
    "TypeClaim",
    "open_store",
]

DEFAULT_DATABASE = "sqlite:///hourhand.db"
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA", "OFF")  # SQLite durability; FULL by default


def open_store(url: str) -> Store:
    """Open ``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or
    ``postgresql://user:password@host:port/db``."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"bad database URL {url!r}: expected sqlite:///path/to/file.db or "
            "postgresql://user@host/dbname"
        )
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        from hourhand.store.sqlite import SQLiteStore

        rest, _, query = url.split("://", 1)[1].partition("?")
        path = unquote(rest)
        if not path.startswith("/"):
            raise ConfigurationError(
                f"bad SQLite URL {url!r}: write sqlite:///relative.db or sqlite:////abs/path.db"
            )
        options = dict(parse_qsl(query))
        synchronous = options.pop("synchronous", "FULL").upper()
        if options or synchronous not in SYNCHRONOUS:
            raise ConfigurationError(
                f"bad SQLite URL {url!r}: the only option is synchronous={'|'.join(SYNCHRONOUS)}"
            )
        return SQLiteStore(path[1:], synchronous=synchronous)
    if scheme in ("postgresql", "postgres"):
        from hourhand.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigurationError(
        f"bad database URL: unsupported scheme {scheme!r}; use sqlite:/// or postgresql://"
    )
