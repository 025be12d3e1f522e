"""The store interface: where images are read from and crops written to.

Stores are picklable and cheap to copy, so the same object travels to every worker; a backend opens its
connections lazily inside the worker. Backends: local.py (a folder), s3.py (IBM COS, AWS S3 or any
S3-compatible endpoint); :func:`bench.stores.open_store` picks one from a URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import PurePosixPath

from bench.errors import UserError


def validate_key(key: str) -> str:
    """Refuse keys that would escape the store's root (absolute paths, '..', empty parts)."""
    path = PurePosixPath(key)
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/")):
        raise UserError(f"refused key {key!r}: keys are relative paths without '..' or empty parts")
    return str(path)


class Store(ABC):
    """Objects by key: one image per key, as in the pattern's bucket."""

    kind: str

    @property
    @abstractmethod
    def url(self) -> str:
        """Where the store is, without credentials."""

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def keys(self) -> list[str]:
        """Every key under this store, sorted."""

    @abstractmethod
    def child(self, prefix: str) -> Store:
        """The same store rooted one prefix deeper (outputs of one case, say)."""

    def open(self) -> None:  # noqa: B027 - optional hook
        """Open this process's connections now, before a clock starts; a folder has none."""
