"""Where images are read from and crops written to: one small interface, a backend per kind of store.

Stores are picklable and cheap to copy, so the same object travels to every worker; a backend opens its
connections lazily inside the worker.

Two backends: :class:`LocalStore` (a folder) and :class:`CosStore` (object storage through ibm-cos-sdk:
IBM COS, AWS S3 or any S3-compatible endpoint, chosen by endpoint URL). Object-storage credentials come
from the environment or from a file the user names (see :func:`resolve_credentials` and
docs/object-storage.md), never from the command line; they are kept out of every URL, repr, manifest,
table and error message.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bench.errors import UserError
from bench.retry import note as note_retries
from bench.retry import with_retries


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


# --- object storage: credentials ------------------------------------------------------------------

#: A file of credentials (JSON or INI, see :func:`read_credentials_file`), named by the user.
CREDENTIALS_FILE_VAR = "FACEBENCH_S3_CREDENTIALS"
#: The section of an INI credentials file to read (default ``default``).
PROFILE_VAR = "FACEBENCH_S3_PROFILE"
#: Set to 1 to send the resolved credentials to the workers inside the pickled store, for workers that
#: have neither the environment nor the file (a remote Dask cluster, Lithops in the cloud).
SHIP_VAR = "FACEBENCH_S3_SHIP_CREDENTIALS"
#: Environment variables read, in order of precedence after the file: (access key id, secret) pairs.
HMAC_VARS = (
    ("COS_HMAC_ACCESS_KEY_ID", "COS_HMAC_SECRET_ACCESS_KEY"),
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
)
SESSION_TOKEN_VAR = "AWS_SESSION_TOKEN"
#: IBM Cloud IAM, the names ibm-cos-sdk itself reads.
IAM_VARS = ("IBM_API_KEY_ID", "IBM_SERVICE_INSTANCE_ID", "IBM_AUTH_ENDPOINT")
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
DEFAULT_REGION = "us-east-1"

_MISSING_CREDENTIALS = (
    "no object-storage credentials: set COS_HMAC_ACCESS_KEY_ID and COS_HMAC_SECRET_ACCESS_KEY, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or IBM_API_KEY_ID (IAM) in the environment, or name "
    f"a credentials file in {CREDENTIALS_FILE_VAR} (see docs/object-storage.md)"
)


@dataclass(frozen=True)
class Credentials:
    """HMAC keys (S3 signature v4) or an IBM Cloud IAM API key; the values never show in a repr."""

    source: str  # where they came from, by name only: "environment (AWS_...)", "file /path", ...
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    service_instance_id: str | None = field(default=None, repr=False)
    auth_endpoint: str | None = None

    @property
    def hmac(self) -> bool:
        return bool(self.access_key_id and self.secret_access_key)

    def secrets(self) -> list[str]:
        """The values that must never be written anywhere (the access key id is not a secret)."""
        return [v for v in (self.secret_access_key, self.session_token, self.api_key) if v]

    def fingerprint(self) -> str:
        values = (self.access_key_id, self.secret_access_key, self.session_token, self.api_key)
        return hashlib.sha256(repr(values).encode()).hexdigest()[:16]

    def client_kwargs(self) -> dict[str, Any]:
        if self.hmac:
            kwargs = {
                "aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key,
            }
            if self.session_token:
                kwargs["aws_session_token"] = self.session_token
            return kwargs
        kwargs = {"ibm_api_key_id": self.api_key, "ibm_service_instance_id": self.service_instance_id}
        if self.auth_endpoint:
            kwargs["ibm_auth_endpoint"] = self.auth_endpoint
        return kwargs

    def scrub(self, text: str) -> str:
        """``text`` with every secret value replaced: for messages that quote a library's error."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text


def _from_mapping(values: dict[str, Any], source: str) -> Credentials | None:
    """Credentials from a flat or IBM-service-credential mapping (the JSON COS hands out)."""

    def pick(*names: str) -> str | None:
        for name in names:
            value = values.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    hmac = values.get("cos_hmac_keys") if isinstance(values.get("cos_hmac_keys"), dict) else {}
    access = pick("access_key_id", "aws_access_key_id") or hmac.get("access_key_id")
    secret = pick("secret_access_key", "aws_secret_access_key") or hmac.get("secret_access_key")
    api_key = pick("api_key", "apikey", "ibm_api_key_id")
    instance = pick("service_instance_id", "resource_instance_id", "ibm_service_instance_id")
    if bool(access) != bool(secret):
        raise UserError(f"{source} has an access key id or a secret access key but not both")
    if not (access or api_key):
        return None
    return Credentials(
        source=source,
        access_key_id=access,
        secret_access_key=secret,
        session_token=pick("session_token", "aws_session_token"),
        api_key=api_key,
        service_instance_id=instance,
        auth_endpoint=pick("auth_endpoint", "ibm_auth_endpoint"),
    )


def read_credentials_file(path: str | Path, profile: str | None = None) -> Credentials:
    """JSON (IBM COS service credentials, or flat keys) or INI (AWS shared-credentials style).

    Error messages name the file, never quote it: a parser's message could carry a secret.
    """
    path = Path(path).expanduser()
    source = f"credentials file {path}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read the {source}: {exc.strerror or type(exc).__name__}") from None
    creds: Credentials | None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise UserError(f"the {source} is not valid JSON") from None
        creds = _from_mapping(data, source) if isinstance(data, dict) else None
    else:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            raise UserError(f"the {source} is neither JSON nor INI with [sections]") from None
        section = profile or "default"
        if not parser.has_section(section):
            raise UserError(f"the {source} has no [{section}] section (choose one with {PROFILE_VAR})")
        creds = _from_mapping(dict(parser[section]), f"{source} [{section}]")
    if creds is None:
        raise UserError(f"the {source} holds neither an access key pair nor an IAM API key")
    return creds


def resolve_credentials(
    credentials_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> Credentials:
    """The first of: the named file, COS_HMAC_* pair, AWS_* pair, IBM IAM API key; else a UserError."""
    env = os.environ if environ is None else environ
    file = credentials_file or env.get(CREDENTIALS_FILE_VAR)
    if file:
        return read_credentials_file(file, env.get(PROFILE_VAR))
    for id_var, secret_var in HMAC_VARS:
        access, secret = env.get(id_var), env.get(secret_var)
        if access and secret:
            token = env.get(SESSION_TOKEN_VAR) if id_var.startswith("AWS_") else None
            return Credentials(f"environment ({id_var}, {secret_var})", access, secret, token)
        if access or secret:
            missing = secret_var if access else id_var
            raise UserError(f"{id_var if access else secret_var} is set but {missing} is not")
    api_var, instance_var, auth_var = IAM_VARS
    if env.get(api_var):
        return Credentials(
            f"environment ({api_var})",
            api_key=env[api_var],
            service_instance_id=env.get(instance_var),
            auth_endpoint=env.get(auth_var),
        )
    raise UserError(_MISSING_CREDENTIALS)


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
        from bench import s3server

        if s3server.probe(endpoint) is None:
            raise
        # The embedded endpoint takes any credentials; its public ones travel with the store.
        store.credentials = creds = s3server.embedded_credentials()
    if _truthy(os.environ.get(SHIP_VAR)):
        store.credentials = creds
    if check:
        store.check()
    return store
