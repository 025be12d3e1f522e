"""Where images are read from and crops written to: one small interface, a backend per kind of store.

Stores are picklable and cheap to copy, so the same object travels to every worker; a backend opens its
connections lazily inside the worker.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath

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


class LocalStore(Store):
    """A folder; keys are relative POSIX paths under it."""

    kind = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def child(self, prefix: str) -> LocalStore:
        return LocalStore(self._path(prefix))


def open_store(url: str | Path) -> Store:
    """A store from its URL: a folder path for now; object storage joins through this function."""
    text = str(url)
    if "://" in text and not text.startswith("file://"):
        raise UserError(f"unsupported store {text!r}: give a local folder")
    return LocalStore(text.removeprefix("file://"))
