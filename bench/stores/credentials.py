"""Object-storage credentials: from the environment or from a file the user names (docs/object-storage.md),
never from the command line; kept out of every URL, repr, manifest, table and error message.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError

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
