"""A folder as a store."""

from __future__ import annotations

import os
from pathlib import Path

from bench.stores.base import Store, validate_key
from bench.stores.retry import with_retries


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
        path = self._path(key)
        return with_retries(path.read_bytes)  # transient errors only (a network mount): bench/retry.py

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)

        with_retries(write)

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
