"""The object store ("S3" in the seed) and its presigned links.

The seed keeps documents and exports in S3 and mails a presigned URL valid for 24 hours.
Here the store is a folder (``HOMES_STORAGE``, default ``./storage``), and a link is the web
app's ``/api/exports/{id}`` with an expiry and an HMAC-SHA256 signature, the way S3 signs
one: anyone with the link may download until it expires, no one can make or stretch one
without the key. The key is made once and kept in the domain database (``app_secrets``), so
every worker and web replica on that database signs and checks alike.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from examples.common.domain import Domain

STORAGE_ENV = "HOMES_STORAGE"
BASE_URL_ENV = "HOMES_BASE_URL"
DEFAULT_STORAGE = "storage"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
LINK_KEY = "export-links"


def root() -> Path:
    """The object store's folder (made if missing)."""
    folder = Path(os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_of(key: str) -> Path:
    """Where object ``key`` lives; ValueError for a key that would leave the store."""
    if not key or key.startswith("/") or ".." in Path(key).parts:
        raise ValueError(f"bad object key {key!r}")
    return root() / key


def put(key: str, data: bytes) -> None:
    target = path_of(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    partial.replace(target)  # readers never see half an object


@contextmanager
def writing(key: str) -> Iterator[Path]:
    """A path to write object ``key`` at: it becomes the object when the block ends, and is
    removed if the block raises."""
    target = path_of(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def delete(key: str) -> bool:
    """Delete an object; False if there was none (deleting twice is fine, as on S3)."""
    try:
        path_of(key).unlink()
    except FileNotFoundError:
        return False
    return True


def exists(key: str) -> bool:
    return path_of(key).is_file()


def link_key(domain: Domain) -> bytes:
    """The signing key of export links: made by the first process that needs it."""
    domain.execute(
        "INSERT INTO app_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (LINK_KEY, secrets.token_hex(32)),
    )
    row = domain.one("SELECT value FROM app_secrets WHERE name = ?", (LINK_KEY,))
    assert row is not None
    return bytes.fromhex(str(row["value"]))


def signature(key: bytes, export_id: int, expires: int) -> str:
    message = f"export:{export_id}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def presigned_url(domain: Domain, export_id: int, expires_at: datetime) -> str:
    """The download link of an export, valid until ``expires_at``."""
    expires = int(expires_at.timestamp())
    query = urlencode(
        {"expires": expires, "signature": signature(link_key(domain), export_id, expires)}
    )
    base = (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}/api/exports/{export_id}?{query}"


def link_valid(domain: Domain, export_id: int, expires: int, given: str, now: datetime) -> bool:
    """Whether a link's signature is right and it has not expired."""
    expected = signature(link_key(domain), export_id, expires)
    return hmac.compare_digest(expected, given) and now.timestamp() < expires
