"""An S3-compatible endpoint on loopback, so that the whole object-storage path runs offline and in CI.

moto's S3 server (``moto[server]``) behind a small WSGI middleware that holds every request for a
fixed time before moto sees it: a client far from its bucket, as the pattern's notebook was, pays
about one round trip per request. The delay is per request (connection set-up is not delayed) and
requests are served by threads, so concurrent requests wait their delays side by side, as on a real
network. The endpoint tells what it emulates at ``GET /_facebench/info`` (a path no S3 bucket can
have), which is how a run records the emulated latency in its manifest.

The server keeps objects in memory and accepts any credentials: nothing in it is a secret, and
everything in it is gone when it stops.

``facebench s3 serve`` runs one in the foreground; :class:`EmbeddedS3` runs one in a child process
for the length of a ``with`` block (the runner's ``--store embedded-s3`` and the tests).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from bench.errors import UserError

HOST = "127.0.0.1"
DEFAULT_PORT = 9000
DEFAULT_BUCKET = "facebench"
INFO_PATH = "/_facebench/info"
SERVER_NAME = "facebench-embedded-s3"
READY_PREFIX = "FACEBENCH_S3_READY "
# moto accepts any credentials; these fixed ones are public and carry no access to anything.
EMBEDDED_ACCESS_KEY_ID = "facebench"
EMBEDDED_SECRET_ACCESS_KEY = "facebench-embedded-not-a-secret"
START_TIMEOUT_S = 60.0


class LatencyMiddleware:
    """Delay every S3 request by ``latency_ms`` and answer the info path itself."""

    def __init__(self, app: Callable, latency_ms: float = 0.0) -> None:
        if latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        self.app = app
        self.latency_ms = float(latency_ms)
        self.requests = 0
        self._lock = threading.Lock()

    def info(self) -> dict:
        from importlib.metadata import version

        return {
            "server": SERVER_NAME,
            "latency_ms": self.latency_ms,
            "latency_emulated": self.latency_ms > 0,
            "delay": "fixed, once per request, before the server handles it",
            "moto": version("moto"),
            "requests": self.requests,
        }

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        if environ.get("PATH_INFO") == INFO_PATH:
            body = json.dumps(self.info()).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        with self._lock:
            self.requests += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        return self.app(environ, start_response)


def make_app(latency_ms: float = 0.0) -> LatencyMiddleware:
    """moto's S3 application (S3 only: no per-request service dispatch) wrapped in the delay."""
    try:
        from moto.moto_server.werkzeug_app import create_backend_app
    except ImportError as exc:
        raise UserError(
            f"the embedded S3 endpoint needs moto[server] ({exc}); pip install 'moto[server]'"
        ) from None
    app = create_backend_app("s3")
    app.debug = False
    return LatencyMiddleware(app, latency_ms)


def make_server(port: int = DEFAULT_PORT, latency_ms: float = 0.0, host: str = HOST):
    """A threaded werkzeug server, bound (port 0 picks a free port) but not yet serving."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    app = make_app(latency_ms)
    try:
        return werkzeug_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def endpoint_of(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def embedded_credentials():
    """The embedded endpoint's public credentials, as a store carries them."""
    from bench.stores.credentials import Credentials

    return Credentials(
        "the embedded endpoint's public credentials",
        access_key_id=EMBEDDED_ACCESS_KEY_ID,
        secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
    )


def client(endpoint: str):
    """An S3 client for the embedded endpoint with its public, fixed credentials."""
    import ibm_boto3
    from ibm_botocore.client import Config

    return ibm_boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=EMBEDDED_ACCESS_KEY_ID,
        aws_secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", retries={"max_attempts": 2}),
    )


def create_buckets(endpoint: str, buckets: Sequence[str]) -> None:
    s3 = client(endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)


def probe(endpoint: str | None, timeout_s: float = 2.0) -> dict | None:
    """What an embedded endpoint says about itself; None for any other endpoint (or none at all).

    Only plain-HTTP loopback endpoints are asked: a cloud endpoint never gets this request.
    """
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + INFO_PATH, timeout=timeout_s) as resp:
            info = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return info if isinstance(info, dict) and info.get("server") == SERVER_NAME else None


def _exit_with_parent(parent: int) -> None:
    """A child server outlives no parent: poll and exit when the parent is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def serve(
    port: int = DEFAULT_PORT,
    latency_ms: float = 0.0,
    buckets: Sequence[str] = (DEFAULT_BUCKET,),
    announce: Callable[[str], None] | None = None,
    parent: int | None = None,
) -> None:
    """Serve until interrupted; ``announce(endpoint)`` once the buckets exist."""
    server = make_server(port, latency_ms)
    endpoint = endpoint_of(server)
    thread = threading.Thread(target=server.serve_forever, name="s3-server", daemon=True)
    thread.start()
    try:
        create_buckets(endpoint, buckets)
        if parent is not None:
            threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
        if announce is not None:
            announce(endpoint)
        thread.join()
    finally:
        server.shutdown()


class EmbeddedS3:
    """The embedded endpoint in a child process for the length of a ``with`` block.

    A child process, not a thread: the server then competes with the client's own threads for CPU
    only, never for the client's GIL, so the fetch and put times a run records are the network's.
    """

    def __init__(
        self, port: int = 0, latency_ms: float = 0.0, buckets: Sequence[str] = (DEFAULT_BUCKET,)
    ) -> None:
        if latency_ms < 0:
            raise UserError("--latency-ms must not be negative")
        self.port = port
        self.latency_ms = float(latency_ms)
        self.buckets = tuple(buckets)
        self.endpoint: str | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def access_key_id(self) -> str:
        return EMBEDDED_ACCESS_KEY_ID

    def info(self) -> dict:
        """For the manifest: where it was and what it emulated."""
        return {
            "server": SERVER_NAME,
            "endpoint": self.endpoint,
            "latency_ms": self.latency_ms,
            "latency_emulated": self.latency_ms > 0,
        }

    def start(self) -> EmbeddedS3:
        cmd = [sys.executable, "-m", "bench.stores.embedded", "--port", str(self.port)]
        cmd += ["--latency-ms", str(self.latency_ms), "--parent", str(os.getpid())]
        for bucket in self.buckets:
            cmd += ["--bucket", bucket]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        ready = threading.Event()
        found: list[str] = []
        threading.Thread(target=self._read_stdout, args=(self._proc, ready, found), daemon=True).start()
        ready.wait(START_TIMEOUT_S)
        if not found:
            code = self._proc.poll()
            self.stop()
            why = (
                f"exited with status {code}" if code is not None else f"not ready in {START_TIMEOUT_S:.0f} s"
            )
            raise UserError(f"the embedded S3 endpoint did not start ({why}); see the messages above")
        self.endpoint = found[0]
        return self

    @staticmethod
    def _read_stdout(proc: subprocess.Popen, ready: threading.Event, found: list[str]) -> None:
        """Wait for the ready line, then keep the pipe drained (to stderr) so the server never blocks."""
        try:
            for line in proc.stdout:
                if not found and line.startswith(READY_PREFIX):
                    found.append(line[len(READY_PREFIX) :].strip())
                    ready.set()
                else:
                    sys.stderr.write(line)
        except (OSError, ValueError):  # the pipe closed under us at stop()
            pass
        finally:
            ready.set()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmbeddedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on {HOST} (0: any free port)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="fixed delay added to every request (default 0)"
    )
    parser.add_argument(
        "--bucket",
        action="append",
        help=f"bucket to create at start (repeatable; default {DEFAULT_BUCKET})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child process of :class:`EmbeddedS3`: serve, and say the endpoint on stdout when ready."""
    parser = argparse.ArgumentParser(prog="python -m bench.stores.embedded")
    add_serve_arguments(parser)
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)

    def announce(endpoint: str) -> None:
        print(READY_PREFIX + endpoint, flush=True)

    try:
        serve(args.port, args.latency_ms, args.bucket or [DEFAULT_BUCKET], announce, args.parent)
    except UserError as exc:
        print(f"facebench s3: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
