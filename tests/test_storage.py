"""Stores without a server: keys, URLs, credentials and what may never show a secret."""

from __future__ import annotations

import pickle

import pytest

from bench.errors import UserError
from bench.executors.lithops import LithopsExecutor, storage_config
from bench.stores import open_store
from bench.stores.base import validate_key
from bench.stores.credentials import Credentials, read_credentials_file, resolve_credentials
from bench.stores.local import LocalStore
from bench.stores.s3 import CosStore, endpoint_kind, region_for

BAD_KEYS = ["../escape.jpg", "a/../../b.jpg", "/etc/passwd", "a//b.jpg", "a/./b.jpg", "a\\b.jpg", "", ".."]
IBM = "https://s3.us-south.cloud-object-storage.appdomain.cloud"


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_escape_are_refused_everywhere(tmp_path, key):
    local = LocalStore(tmp_path / "root")
    cos = CosStore("bucket", "prefix", "http://127.0.0.1:1")
    for call in (
        lambda: local.put(key, b"x"),
        lambda: local.get(key),
        lambda: local.child(key),
        lambda: cos.full_key(key),
        lambda: cos.get(key),
        lambda: cos.put(key, b"x"),
        lambda: cos.child(key),
    ):
        with pytest.raises(UserError, match="refused key"):
            call()
    assert not any((tmp_path).rglob("*.jpg"))


def test_good_keys_and_prefixes():
    assert validate_key("George_W_Bush/George_W_Bush_0001.jpg") == "George_W_Bush/George_W_Bush_0001.jpg"
    store = CosStore("bucket", "/runs/a/", "http://127.0.0.1:1")
    assert store.prefix == "runs/a" and store.url == "s3://bucket/runs/a"
    child = store.child("output/r1/case")
    assert child.full_key("P/p.jpg") == "runs/a/output/r1/case/P/p.jpg"
    assert CosStore("bucket").full_key("k.jpg") == "k.jpg"
    with pytest.raises(UserError, match="refused key"):
        open_store("s3://bucket/a/../b", "http://127.0.0.1:1")


def test_local_store_round_trip(tmp_path):
    store = LocalStore(tmp_path)
    store.put("b/2.jpg", b"two")
    store.child("a").put("1.jpg", b"one")
    assert store.keys() == ["a/1.jpg", "b/2.jpg"]
    assert store.get("a/1.jpg") == b"one"
    assert not list(tmp_path.rglob(".*.tmp"))


def test_open_store_kinds(tmp_path, no_credentials, monkeypatch):
    assert isinstance(open_store(tmp_path), LocalStore)
    assert open_store(f"file://{tmp_path}").root == tmp_path
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    s3 = open_store("s3://my-bucket/lfw/a", "http://127.0.0.1:9/")
    assert isinstance(s3, CosStore) and s3.kind == "s3"
    assert (s3.bucket, s3.prefix, s3.endpoint) == ("my-bucket", "lfw/a", "http://127.0.0.1:9")
    assert open_store("cos://my-bucket", IBM).url == "s3://my-bucket"
    for url, endpoint, match in [
        ("gs://bucket/x", None, "unsupported store"),
        ("s3://Bad_Bucket/x", None, "bad bucket name"),
        ("s3://ab/x", None, "bad bucket name"),
        (str(tmp_path), "http://127.0.0.1:9", "applies to an s3:// store"),
        ("s3://bucket/x", "ftp://127.0.0.1:9", "http:// or https://"),
        ("s3://bucket/x", "http://127.0.0.1:9/?a=b", "query"),
    ]:
        with pytest.raises(UserError, match=match):
            open_store(url, endpoint)


def test_credentials_in_an_endpoint_url_are_refused_without_repeating_them():
    with pytest.raises(UserError) as info:
        open_store("s3://bucket/x", "http://AKIDXYZ:SuperSecretValue@127.0.0.1:9000")
    assert "SuperSecretValue" not in str(info.value) and "AKIDXYZ" not in str(info.value)
    assert "\n" not in str(info.value)


def test_credentials_from_the_environment_in_order():
    both = {
        "AWS_ACCESS_KEY_ID": "aws-id",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "aws-token",
        "COS_HMAC_ACCESS_KEY_ID": "cos-id",
        "COS_HMAC_SECRET_ACCESS_KEY": "cos-secret",
        "IBM_API_KEY_ID": "iam-key",
    }
    creds = resolve_credentials(environ=both)
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "cos-id",
        "cos-secret",
        None,
    )
    assert "COS_HMAC_ACCESS_KEY_ID" in creds.source and "cos-secret" not in creds.source
    aws = resolve_credentials(environ={k: v for k, v in both.items() if not k.startswith("COS_")})
    assert (aws.access_key_id, aws.session_token) == ("aws-id", "aws-token") and aws.hmac
    iam = resolve_credentials(environ={"IBM_API_KEY_ID": "iam-key", "IBM_SERVICE_INSTANCE_ID": "crn:x"})
    assert not iam.hmac and iam.client_kwargs()["ibm_api_key_id"] == "iam-key"
    assert iam.client_kwargs()["ibm_service_instance_id"] == "crn:x"


def test_missing_or_partial_credentials_are_one_line_errors():
    with pytest.raises(UserError) as info:
        resolve_credentials(environ={})
    message = str(info.value)
    for name in ("AWS_ACCESS_KEY_ID", "COS_HMAC_ACCESS_KEY_ID", "IBM_API_KEY_ID", "FACEBENCH_S3_CREDENTIALS"):
        assert name in message
    assert "\n" not in message
    with pytest.raises(UserError, match="AWS_SECRET_ACCESS_KEY is not"):
        resolve_credentials(environ={"AWS_ACCESS_KEY_ID": "id"})
    with pytest.raises(UserError, match="COS_HMAC_ACCESS_KEY_ID is not") as info:
        resolve_credentials(environ={"COS_HMAC_SECRET_ACCESS_KEY": "lonely-secret"})
    assert "lonely-secret" not in str(info.value)


def test_credentials_files(tmp_path):
    ibm = tmp_path / "cos.json"  # the shape IBM Cloud's service credentials come in
    ibm.write_text(
        '{"apikey": "iam-key", "cos_hmac_keys": {"access_key_id": "hid", "secret_access_key": "hsecret"},'
        ' "resource_instance_id": "crn:v1:x"}'
    )
    creds = read_credentials_file(ibm)
    assert (creds.access_key_id, creds.secret_access_key, creds.api_key) == ("hid", "hsecret", "iam-key")
    assert creds.service_instance_id == "crn:v1:x" and creds.hmac
    ini = tmp_path / "credentials"
    ini.write_text("[default]\naws_access_key_id = a\naws_secret_access_key = b\n[lab]\naccess_key_id = c\n")
    ini.write_text(ini.read_text() + "secret_access_key = d\n")
    assert read_credentials_file(ini).secret_access_key == "b"
    assert read_credentials_file(ini, "lab").access_key_id == "c"
    named = resolve_credentials(environ={"FACEBENCH_S3_CREDENTIALS": str(ini), "FACEBENCH_S3_PROFILE": "lab"})
    assert named.secret_access_key == "d" and str(ini) in named.source
    with pytest.raises(UserError, match=r"no \[nope\] section"):
        read_credentials_file(ini, "nope")
    with pytest.raises(UserError, match="cannot read"):
        read_credentials_file(tmp_path / "absent")
    broken = tmp_path / "broken"
    broken.write_text("aws_secret_access_key = LeakedIfQuoted\n")  # no section header
    with pytest.raises(UserError) as info:
        read_credentials_file(broken)
    assert "LeakedIfQuoted" not in str(info.value)
    empty = tmp_path / "empty.json"
    empty.write_text('{"other": 1}')
    with pytest.raises(UserError, match="neither an access key pair nor an IAM API key"):
        read_credentials_file(empty)


def test_no_secret_in_repr_url_describe_or_pickle(no_credentials, monkeypatch):
    secret = "FBSECRETunit0123456789"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    store = open_store("s3://bucket/p", "http://127.0.0.1:9")
    creds = store.resolve_credentials()
    assert creds.secret_access_key == secret
    shown = [repr(store), store.url, str(store.describe()), repr(creds), str(creds), repr(store.child("x"))]
    assert not any(secret in text for text in shown)
    # The worker resolves the credentials itself: the pickled store carries none.
    assert secret.encode() not in pickle.dumps(store)
    assert creds.scrub(f"oops {secret}!") == "oops ***!"


def test_shipping_credentials_is_explicit(no_credentials, monkeypatch):
    secret = "FBSECRETshipped42"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("FACEBENCH_S3_SHIP_CREDENTIALS", "1")
    store = open_store("s3://bucket/p", "http://127.0.0.1:9")
    assert secret not in repr(store) and secret not in str(store.describe())
    copy = pickle.loads(pickle.dumps(store))
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert copy.resolve_credentials().secret_access_key == secret and copy._client is not None


def test_pickled_store_drops_its_client_and_opens_one_on_arrival(no_credentials):
    store = CosStore("bucket", "p", "http://127.0.0.1:9", credentials=Credentials("t", "id", "secret"))
    fake = store._client = object()
    assert store.__getstate__()["_client"] is None
    arrived = pickle.loads(pickle.dumps(store))
    assert arrived._client is not None and arrived._client is not fake  # built, no request made
    # Without credentials in the worker, arrival still succeeds; the first request says why.
    bare = pickle.loads(pickle.dumps(CosStore("bucket", "p", "http://127.0.0.1:9")))
    assert bare._client is None
    with pytest.raises(UserError, match="no object-storage credentials"):
        bare.get("k.jpg")


def test_endpoint_kinds_and_regions():
    assert endpoint_kind(None) == "aws_s3"
    assert endpoint_kind("https://s3.eu-west-1.amazonaws.com") == "aws_s3"
    assert endpoint_kind(IBM) == "ibm_cos"
    assert endpoint_kind("https://s3.direct.eu-de.cloud-object-storage.appdomain.cloud") == "ibm_cos"
    assert endpoint_kind("http://s3.us-south.cloud-object-storage.appdomain.cloud") == "minio"  # HTTP
    assert endpoint_kind("http://127.0.0.1:9000") == "minio"
    assert endpoint_kind("https://minio.example.org") == "minio"
    assert region_for(IBM, environ={}) == "us-south"
    assert region_for("https://s3.direct.eu-de.cloud-object-storage.appdomain.cloud", environ={}) == "eu-de"
    assert region_for("https://s3.eu-west-1.amazonaws.com", environ={}) == "eu-west-1"
    assert region_for("http://127.0.0.1:9000", environ={}) == "us-east-1"
    assert region_for(None, environ={"AWS_REGION": "ap-south-1"}) == "ap-south-1"


def _store(endpoint, **creds):
    return CosStore("bench-bucket", "p", endpoint, credentials=Credentials("test", **creds))


def test_lithops_storage_follows_the_store():
    hmac = {"access_key_id": "id", "secret_access_key": "secret"}
    backend, section = storage_config(_store("http://127.0.0.1:9000", **hmac))
    assert backend == "minio"
    assert section == {"storage_bucket": "bench-bucket", "endpoint": "http://127.0.0.1:9000", **hmac}
    backend, section = storage_config(_store(IBM, **hmac))
    assert backend == "ibm_cos" and section["region"] == "us-south" and section["endpoint"] == IBM
    backend, section = storage_config(_store(IBM, api_key="iam", service_instance_id="crn"))
    assert backend == "ibm_cos" and section["api_key"] == "iam" and "access_key_id" not in section
    backend, section = storage_config(_store(None, session_token="tok", **hmac))
    assert backend == "aws_s3" and section["region"] == "us-east-1" and section["session_token"] == "tok"
    assert "endpoint" not in section
    assert storage_config(_store("http://127.0.0.1:9000", api_key="iam")) is None  # minio needs HMAC
    assert storage_config(LocalStore("/tmp")) is None


def test_lithops_executor_points_its_storage_at_the_store(tmp_path):
    store = _store("http://127.0.0.1:9000", access_key_id="id", secret_access_key="secret")
    config = LithopsExecutor(2, store=store).config
    assert config["lithops"]["backend"] == "localhost" and config["lithops"]["storage"] == "minio"
    assert config["minio"]["endpoint"] == "http://127.0.0.1:9000"
    assert LithopsExecutor(2).config["lithops"]["storage"] == "localhost"
    own = tmp_path / "lithops.yaml"
    own.write_text("lithops:\n  backend: localhost\n  storage: localhost\n")
    assert LithopsExecutor(2, config_file=own, store=store).config["lithops"]["storage"] == "localhost"
    unset = tmp_path / "unset.yaml"
    unset.write_text("lithops:\n  backend: localhost\n")
    assert LithopsExecutor(2, config_file=unset, store=store).config["lithops"]["storage"] == "minio"
