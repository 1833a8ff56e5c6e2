"""The storage provider behind the ``files`` table. The seed's ``filesService`` made its
jobs provider-agnostic (local disk with ``unlink``, S3/R2/MinIO with ``DeleteObject``); the
jobs here only see :class:`Storage`, and :class:`LocalStorage` is the local-disk one. An S3
provider is these four methods over ``put_object``/``get_object``/``delete_object``."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

STORAGE_DIR_ENV = "SAAS_STORAGE_DIR"
DEFAULT_STORAGE_DIR = "storage"  # in the folder the app runs from


class Storage(Protocol):
    """Objects by key (``org_acme/uploads/contacts.csv``); keys are relative POSIX paths."""

    def put(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key`` (replacing any); its size in bytes."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool:
        """Delete the object; False if it was already gone (deleting is idempotent, so a
        cleanup that is retried after a crash finishes the job)."""
        ...


class LocalStorage:
    """Objects as files under a root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_env(cls) -> LocalStorage:
        """The directory ``SAAS_STORAGE_DIR`` names, else ``./storage``."""
        return cls(os.environ.get(STORAGE_DIR_ENV, DEFAULT_STORAGE_DIR))

    def path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".") for p in parts):
            raise ValueError("a storage key is a relative path without '.' or '..' parts")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> int:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a file
        return len(data)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True
