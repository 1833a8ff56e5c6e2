"""Where the library's jobs find their folders and the services they call: environment
variables, read when a job runs (so a test, or an operator, can change them without a
restart of anything but the worker's environment)."""

from __future__ import annotations

import os
from pathlib import Path

LIBRARY_NAME = "Riverside Library"  # in the e-mails' templates

ASSETS_DIR = "LIBRARY_ASSETS_DIR"  # cover images (default ./assets)
BACKUP_DIR = "LIBRARY_BACKUP_DIR"  # backup_database's files (default ./backups)
METADATA_URL = "LIBRARY_METADATA_URL"  # an Open Library style catalogue
COVERS_URL = "LIBRARY_COVERS_URL"  # ... and its cover images
OAUTH_TOKEN_URL = "LIBRARY_OAUTH_TOKEN_URL"  # noqa: S105 (a variable's name): the token endpoint
OAUTH_CLIENT_ID = "LIBRARY_OAUTH_CLIENT_ID"
OAUTH_CLIENT_SECRET = "LIBRARY_OAUTH_CLIENT_SECRET"  # noqa: S105 (a variable's name)

HTTP_TIMEOUT = 15.0  # seconds per request to the catalogue or the token endpoint


def _get(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def assets_dir() -> Path:
    return Path(_get(ASSETS_DIR, "assets") or "assets")


def backup_dir() -> Path:
    return Path(_get(BACKUP_DIR, "backups") or "backups")


def metadata_url() -> str:
    return (_get(METADATA_URL) or "https://openlibrary.org").rstrip("/")


def covers_url() -> str:
    return (_get(COVERS_URL) or "https://covers.openlibrary.org").rstrip("/")


def oauth_token_url() -> str | None:
    return _get(OAUTH_TOKEN_URL)


def oauth_client() -> tuple[str, str]:
    """The client id and secret the token endpoint knows the library by."""
    return _get(OAUTH_CLIENT_ID, "library") or "library", _get(OAUTH_CLIENT_SECRET, "") or ""
