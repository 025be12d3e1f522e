"""Where images are read from and crops written to: one small interface (base.py), a backend per kind
of store (local.py, s3.py), the embedded S3 endpoint (embedded.py) and staging a dataset (staging.py).
As with fsspec, the caller opens a store from its URL and never branches on which backend it got.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import UserError
from bench.stores.base import Store
from bench.stores.credentials import CREDENTIALS_FILE_VAR, SHIP_VAR
from bench.stores.local import LocalStore
from bench.stores.s3 import CosStore, validate_endpoint

__all__ = ["CosStore", "LocalStore", "Store", "open_store"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def open_store(url: str | Path, endpoint: str | None = None, *, check: bool = False) -> Store:
    """A store from its URL: a folder path (or ``file://``), or ``s3://bucket/prefix`` (``cos://`` too).

    For object storage, ``endpoint`` is the service URL (default: AWS S3). With ``check``, credentials,
    endpoint and bucket are checked now, so a user's mistake is one line before any work starts.
    """
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("", "file"):
        if endpoint:
            raise UserError("--endpoint applies to an s3:// store, not to a local folder")
        return LocalStore(text.removeprefix("file://"))
    if scheme not in ("s3", "cos"):
        raise UserError(f"unsupported store {scheme}://...: give a local folder or s3://bucket/prefix")
    bucket, _, prefix = text.split("://", 1)[1].partition("/")
    endpoint = validate_endpoint(endpoint)
    store = CosStore(bucket, prefix, endpoint, credentials_file=os.environ.get(CREDENTIALS_FILE_VAR))
    try:
        creds = store.resolve_credentials()
    except UserError:
        from bench.stores import embedded as s3server

        if s3server.probe(endpoint) is None:
            raise
        # The embedded endpoint takes any credentials; its public ones travel with the store.
        store.credentials = creds = s3server.embedded_credentials()
    if _truthy(os.environ.get(SHIP_VAR)):
        store.credentials = creds
    if check:
        store.check()
    return store
