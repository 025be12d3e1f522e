"""Object storage through ibm-cos-sdk: IBM COS, AWS S3 or any S3-compatible endpoint, chosen by
endpoint URL. Connections open lazily inside each worker.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.errors import UserError
from bench.stores.base import Store, validate_key
from bench.stores.credentials import DEFAULT_REGION, REGION_VARS, Credentials, resolve_credentials
from bench.stores.retry import note as note_retries

# --- object storage: the store --------------------------------------------------------------------

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IBM_HOSTS = (
    ".cloud-object-storage.appdomain.cloud",
    ".softlayer.net",
    ".cloud-object-storage.cloud.ibm.com",
)
_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def endpoint_kind(endpoint: str | None) -> str:
    """Which service an endpoint is: ``ibm_cos``, ``aws_s3`` or ``minio`` (any other S3 endpoint).

    The names are Lithops' storage backends; IBM COS forces HTTPS there, so a plain-HTTP endpoint is
    always ``minio``.
    """
    if not endpoint:
        return "aws_s3"
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host.endswith(_IBM_HOSTS):
        return "ibm_cos"
    if host.endswith(".amazonaws.com"):
        return "aws_s3"
    return "minio"


def region_for(endpoint: str | None, environ: dict[str, str] | None = None) -> str:
    """The signing region: from the environment, else an IBM or AWS endpoint's host, else us-east-1."""
    env = os.environ if environ is None else environ
    for var in REGION_VARS:
        if env.get(var):
            return env[var]
    host = (urlsplit(endpoint).hostname or "") if endpoint else ""
    if endpoint_kind(endpoint) == "ibm_cos":  # s3[.private|.direct].<region>.cloud-object-storage...
        parts = [p for p in host.split(".") if p not in ("s3", "private", "direct")]
        if parts:
            return parts[0]
    match = re.match(r"^s3[.-]([a-z0-9-]+)\.amazonaws\.com$", host)
    if match and match.group(1) != "external-1":
        return match.group(1)
    return DEFAULT_REGION


def validate_endpoint(endpoint: str | None) -> str | None:
    """An http(s) URL without user info, query or fragment; the message never repeats a bad URL whole."""
    if endpoint is None or endpoint == "":
        return None
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UserError(
            "the endpoint URL must not carry credentials; put them in the environment "
            "(see docs/object-storage.md)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(
            "the endpoint must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000"
        )
    if parts.query or parts.fragment:
        raise UserError("the endpoint URL must not have a query or a fragment")
    return endpoint.rstrip("/")


class CosStore(Store):
    """A bucket and a key prefix on an S3 endpoint, through ibm-cos-sdk (ibm_boto3).

    What travels to a worker (pickled) is the bucket, prefix, endpoint, region and the *name* of a
    credentials file if one was given; the worker resolves the credentials itself from its environment
    or that file and opens its own client. Only ``credentials`` set explicitly travel with the store: the
    embedded endpoint's public ones, or the user's when they ask for it (``FACEBENCH_S3_SHIP_CREDENTIALS``).
    """

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint: str | None = None,
        *,
        region: str | None = None,
        credentials_file: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise UserError(f"bad bucket name {bucket!r}: 3-63 lowercase letters, digits, '.' or '-'")
        self.bucket = bucket
        self.prefix = validate_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.endpoint = validate_endpoint(endpoint)
        self.region = region or region_for(self.endpoint)
        self.credentials_file = (
            str(Path(credentials_file).expanduser().resolve()) if credentials_file else None
        )
        self.credentials = credentials
        self._client = None

    # Credentials and client -----------------------------------------------------------------------

    def resolve_credentials(self) -> Credentials:
        if self.credentials is not None:
            return self.credentials
        return resolve_credentials(self.credentials_file)

    def _make_client(self, creds: Credentials, *, attempts: int = 5, connect_timeout: float = 10.0):
        import ibm_boto3
        from ibm_botocore.client import Config

        config = Config(
            signature_version="s3v4" if creds.hmac else "oauth",
            max_pool_connections=32,
            connect_timeout=connect_timeout,
            read_timeout=60,
            retries={"max_attempts": attempts},
        )
        session = ibm_boto3.session.Session()
        return session.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=config, **creds.client_kwargs()
        )

    def client(self):
        """This process's client for this endpoint and these credentials: made once, shared by threads."""
        if self._client is None:
            creds = self.resolve_credentials()
            key = (self.endpoint, self.region, creds.fingerprint())
            with _CLIENTS_LOCK:
                if key not in _CLIENTS:
                    _CLIENTS[key] = self._make_client(creds)
                self._client = _CLIENTS[key]
        return self._client

    def open(self) -> None:
        self.client()

    def check(self) -> Credentials:
        """Before any work: credentials present, endpoint reachable, bucket there and readable.

        Every problem is a one-line UserError that names the endpoint and bucket, never a secret.
        """
        from ibm_botocore.exceptions import BotoCoreError, ClientError

        creds = self.resolve_credentials()
        where = f"bucket {self.bucket!r} at {self.endpoint or 'AWS S3'}"
        try:
            self._make_client(creds, attempts=1, connect_timeout=5.0).head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise UserError(f"{where} does not exist; create it first") from None
            if code in ("403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise UserError(
                    f"access denied to {where} with the credentials from {creds.source}"
                ) from None
            raise UserError(f"{where} cannot be used: {code or 'error'}") from None
        except BotoCoreError as exc:
            raise UserError(
                f"cannot reach the object-storage endpoint for {where}: {creds.scrub(type(exc).__name__)}"
            ) from None
        except Exception as exc:  # e.g. IAM token service failures
            raise UserError(
                f"cannot use {where}: {type(exc).__name__}: {creds.scrub(str(exc))[:200]}"
            ) from None
        self.client()  # warm for the requests to come (the sequential reference runs in this process)
        return creds

    # The Store interface ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def full_key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def get(self, key: str) -> bytes:
        full = self.full_key(key)  # refused before any request
        response = self.client().get_object(Bucket=self.bucket, Key=full)
        note_retries(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))  # botocore's own
        return response["Body"].read()

    def put(self, key: str, data: bytes) -> None:
        """The server checks the bytes against their MD5 (Content-MD5) before it stores them."""
        full = self.full_key(key)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        response = self.client().put_object(Bucket=self.bucket, Key=full, Body=data, ContentMD5=md5)
        note_retries(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))  # botocore's own

    def listing(self) -> dict[str, tuple[int, str]]:
        """Every key under the prefix with its size and ETag (the MD5 hex of a single-part upload)."""
        start = f"{self.prefix}/" if self.prefix else ""
        found: dict[str, tuple[int, str]] = {}
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for obj in page.get("Contents", []):
                found[obj["Key"][len(start) :]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
        return found

    def keys(self) -> list[str]:
        return sorted(self.listing())

    def child(self, prefix: str) -> CosStore:
        return CosStore(
            self.bucket,
            self.full_key(prefix),
            self.endpoint,
            region=self.region,
            credentials_file=self.credentials_file,
            credentials=self.credentials,
        )

    # Pickling and printing: no client, no secret ------------------------------------------------------

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_client"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        """Arriving in a worker: open the client now (no request is made), so that importing the SDK
        and building the client (about 0.3 s the first time in a process) is paid on arrival, not in
        the first image's fetch_s. A failure here shows again, per image, at the first request."""
        self.__dict__.update(state)
        try:
            self.client()
        except Exception:
            self._client = None

    def __repr__(self) -> str:
        return f"CosStore({self.url!r}, endpoint={self.endpoint!r})"

    def describe(self) -> dict:
        """For manifests: where, and where the credentials come from (by name only)."""
        if self.credentials is not None:
            source = self.credentials.source
        else:
            source = f"credentials file {self.credentials_file}" if self.credentials_file else "environment"
        return {
            "url": self.url,
            "endpoint": self.endpoint,
            "service": endpoint_kind(self.endpoint),
            "region": self.region,
            "credentials_from": source,
        }
