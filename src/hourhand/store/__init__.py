"""Stores: where jobs live. ``open_store(url)`` picks the dialect from the URL."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from hourhand.errors import ConfigurationError
from hourhand.store.alert_rows import AlertQuery, AlertRow, StoredRule
from hourhand.store.base import (
    AttemptEnd,
    Completion,
    HeartbeatResult,
    JobFilter,
    PruneBatch,
    QueueInfo,
    Store,
    TypeClaim,
    latest_migration,
)
from hourhand.store.fires import FIRE_STATUSES, FireRecord
from hourhand.store.records import ApiKey, AuditEntry, ProcessInfo, User

__all__ = [
    "FIRE_STATUSES",
    "AlertQuery",
    "AlertRow",
    "ApiKey",
    "AttemptEnd",
    "AuditEntry",
    "Completion",
    "DatabaseInfo",
    "FireRecord",
    "HeartbeatResult",
    "JobFilter",
    "Location",
    "ProcessInfo",
    "PruneBatch",
    "QueueInfo",
    "Store",
    "StoredRule",
    "TypeClaim",
    "User",
    "check_listen_url",
    "check_url",
    "latest_migration",
    "locate",
    "mask_password",
    "open_store",
]

DEFAULT_DATABASE = "sqlite:///hourhand.db"
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA", "OFF")  # SQLite durability; FULL by default
# PostgreSQL URL parameter of hourhand's own (taken out before libpq sees the URL): the URL
# leads to PgBouncer, or another pooler, in transaction mode (docs/scaling.md)
POOLER_PARAM = "pgbouncer"
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class Location:
    """Where a database URL points, worked out without connecting."""

    url: str  # as given, password included: for connecting, never for messages
    masked: str  # the URL with any password replaced by ***: for messages
    dialect: str  # "sqlite" or "postgres"
    path: str | None = None  # SQLite: the file, absolute
    raw_path: str | None = None  # SQLite: the file as written in the URL (maybe relative)
    # SQLite: synchronous; PostgreSQL: pgbouncer ("true" or "false")
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatabaseInfo:
    """What ``hh.database_info()`` found; nothing is created or changed to find it."""

    url: str  # password masked
    dialect: str
    path: str | None  # SQLite: the absolute file path
    exists: bool  # SQLite: whether the file exists (a reachable PostgreSQL database: True)
    schema_version: int | None  # the latest migration applied; None: no hourhand tables
    latest_version: int  # the latest migration this version of hourhand has
    jobs: dict[str, int] = field(default_factory=dict)  # jobs per state
    schedules: int = 0

    @property
    def empty(self) -> bool:
        """No jobs and no schedules (or no hourhand tables at all)."""
        return not any(self.jobs.values()) and not self.schedules


def mask_password(url: str) -> str:
    """``url`` with any password (in the authority or a ``password=`` parameter) as ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://***" if "://" in url else url
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if netloc == parts.netloc and not any(key.lower() == "password" for key, _ in pairs):
        return url
    query = "&".join(
        f"{key}=***" if key.lower() == "password" else f"{key}={value}" for key, value in pairs
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_url(url: str) -> str:
    """The URL, if :func:`open_store` can open its kind (nothing is opened); otherwise
    ConfigurationError saying what is wrong."""
    locate(url)
    return url


def locate(url: str) -> Location:
    """Check a database URL and say where it points (ConfigurationError if it is wrong)."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"bad database URL {url!r}: expected sqlite:///path/to/file.db or "
            "postgresql://user@host/dbname"
        )
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
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
        raw = path[1:]
        absolute = os.path.abspath(raw) if raw not in ("", ":memory:") else raw
        return Location(
            url, url, "sqlite", absolute, raw_path=raw, options={"synchronous": synchronous}
        )
    if scheme in ("postgresql", "postgres"):
        _, pgbouncer = split_pooler_param(url)
        options = {POOLER_PARAM: "true" if pgbouncer else "false"}
        return Location(url, mask_password(url), "postgres", options=options)
    raise ConfigurationError(
        f"bad database URL: unsupported scheme {scheme!r}; use sqlite:/// or postgresql://"
    )


def split_pooler_param(url: str) -> tuple[str, bool]:
    """A PostgreSQL URL without hourhand's ``pgbouncer=`` parameter (libpq would refuse
    it), and its value; the other parameters are kept as written."""
    base, mark, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    kept: list[str] = []
    pgbouncer = False
    for piece in query.split("&") if mark else []:
        key, _, value = piece.partition("=")
        if unquote(key) != POOLER_PARAM:
            kept.append(piece)
            continue
        found = BOOLEANS.get(unquote(value).lower())
        if found is None:
            raise ConfigurationError(
                f"bad PostgreSQL URL {mask_password(url)!r}: {POOLER_PARAM}= takes true or false"
            )
        pgbouncer = found
    query = "&".join(kept)
    return base + ("?" + query if query else "") + hash_mark + fragment, pgbouncer


def check_listen_url(url: str, database: str) -> str:
    """The URL of a direct connection to LISTEN on, if it can be one for ``database``;
    otherwise ConfigurationError saying why."""
    where = locate(url)
    if where.dialect != "postgres":
        raise ConfigurationError(
            f"bad listen database {where.masked!r}: it must be a postgresql:// URL"
        )
    if where.options[POOLER_PARAM] == "true":
        raise ConfigurationError(
            f"bad listen database {where.masked!r}: LISTEN needs a session connection, "
            f"not a transaction pooler ({POOLER_PARAM}=true)"
        )
    if locate(database).dialect != "postgres":
        raise ConfigurationError(
            "a listen database (HOURHAND_LISTEN_DATABASE) is for PostgreSQL only; "
            f"the database is {mask_password(database)!r}"
        )
    return url


def open_store(url: str, *, create: bool = True, listen_url: str | None = None) -> Store:
    """Open ``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or
    ``postgresql://user:password@host:port/db`` (``?pgbouncer=true``: through PgBouncer in
    transaction mode).

    With ``create=False`` an SQLite file that does not exist is not created: the store
    raises DatabaseNotFound (and opens the file read-write only, never creating it).
    ``listen_url`` (PostgreSQL): a direct connection for LISTEN, for when ``url`` leads
    to a transaction pooler; without one, workers behind such a pooler poll."""
    where = locate(url)
    if listen_url is not None:
        check_listen_url(listen_url, url)
    if where.dialect == "sqlite":
        from hourhand.store.sqlite import SQLiteStore

        assert where.raw_path is not None
        return SQLiteStore(where.raw_path, synchronous=where.options["synchronous"], create=create)
    from hourhand.store.postgres import PostgresStore

    libpq_url, pgbouncer = split_pooler_param(url)
    listen = None if listen_url is None else split_pooler_param(listen_url)[0]
    return PostgresStore(libpq_url, pgbouncer=pgbouncer, listen_url=listen)
