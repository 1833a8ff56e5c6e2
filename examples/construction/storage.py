"""The invoices' file storage: a folder on this machine (the seed's Supabase Storage bucket),
``CONSTRUCTION_STORAGE`` or ``./storage``. Files are written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

STORAGE_VARIABLE = "CONSTRUCTION_STORAGE"
DEFAULT_STORAGE = "storage"  # relative to the folder the worker runs in


def storage_root() -> Path:
    """The storage folder, read at each use (a worker's environment may set it)."""
    return Path(os.environ.get(STORAGE_VARIABLE) or DEFAULT_STORAGE).resolve()


def upload(key: str, data: bytes) -> str:
    """Store ``data`` at ``key`` (e.g. ``invoices/1/7.pdf``) and return its URL. Written
    to a temporary file and renamed, so a reader never sees half a file; an OSError (a
    full disk, a folder that cannot be made) fails the attempt and is retried."""
    path = storage_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path.as_uri()


def path_of(url: str) -> Path:
    """The file of a URL :func:`upload` returned."""
    return Path(unquote(urlparse(url).path))
