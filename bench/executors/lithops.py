"""Lithops serverless functions: any backend by config file, found as Lithops finds it
(``--lithops-config``, ``LITHOPS_CONFIG_FILE``, ``~/.lithops/config``), else offline localhost.

Every Lithops call runs in a fresh process (here and in the cloud), so each chunk pays the model load:
that is the serverless cold start, and the tables record it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.executors.base import Billing, Executor

# Status polling at Lithops' default 2 s would add up to 2 s to every case; the background cleaner
# would compete with the next case for CPU. Both are set here on purpose; cleanup runs after timing.
MONITORING_INTERVAL_S = 0.1


def localhost_config(workers: int) -> dict:
    return {
        "lithops": {
            "backend": "localhost",
            "storage": "localhost",
            "monitoring_interval": MONITORING_INTERVAL_S,
            "data_cleaner": False,
            "log_level": "WARNING",
        },
        "localhost": {"runtime": sys.executable, "worker_processes": workers},
    }


def find_config_file(path: str | Path | None = None) -> tuple[Path | None, str]:
    """The Lithops config to use, by Lithops' own rules: the file named, else ``LITHOPS_CONFIG_FILE``,
    else ``~/.lithops/config``; None (offline localhost) where none exists. Returns where it came from."""
    if path is not None:
        return Path(path), "--lithops-config"
    env = os.environ.get("LITHOPS_CONFIG_FILE")
    if env:
        if not Path(env).is_file():
            raise UserError(f"LITHOPS_CONFIG_FILE names {env}, which does not exist")
        return Path(env), "LITHOPS_CONFIG_FILE"
    home = Path.home() / ".lithops" / "config"
    if home.is_file():
        return home, "~/.lithops/config"
    return None, "none found (no --lithops-config, LITHOPS_CONFIG_FILE or ~/.lithops/config): localhost"


def load_config(path: str | Path | None, workers: int) -> dict:
    """The user's Lithops YAML where there is one (its backend and storage), else offline localhost."""
    if path is None:
        return localhost_config(workers)
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise UserError(f"cannot read the Lithops config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"the Lithops config {path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict) or "lithops" not in config:
        raise UserError(f"the Lithops config {path} has no 'lithops:' section")
    config["lithops"].setdefault("monitoring_interval", MONITORING_INTERVAL_S)
    config["lithops"].setdefault("data_cleaner", False)
    config["lithops"].setdefault("log_level", "WARNING")
    if config["lithops"].get("backend", "localhost") == "localhost":
        config.setdefault("localhost", {}).setdefault("runtime", sys.executable)
        config["localhost"]["worker_processes"] = workers
    return config


def storage_config(store: Any) -> tuple[str, dict] | None:
    """Lithops' own storage backend on the run's object store: same endpoint, same bucket.

    ``minio`` for any S3 endpoint (a plain-HTTP local one included: ``ibm_cos`` forces HTTPS),
    ``ibm_cos`` for IBM COS, ``aws_s3`` for AWS. Credentials are the store's (the environment or the
    file the user named); they go into Lithops' config, which Lithops hands to its workers.
    None where the store is not an object store, or where ``minio``/``aws_s3`` would need HMAC keys
    and only an IAM API key is there.
    """
    from bench.stores.s3 import CosStore, endpoint_kind

    if not isinstance(store, CosStore):
        return None
    creds = store.resolve_credentials()
    backend = endpoint_kind(store.endpoint)
    section: dict[str, Any] = {"storage_bucket": store.bucket}
    if creds.hmac:
        section.update(access_key_id=creds.access_key_id, secret_access_key=creds.secret_access_key)
        if creds.session_token:
            section["session_token"] = creds.session_token
    elif backend == "ibm_cos":
        section["api_key"] = creds.api_key
        if creds.service_instance_id:
            section["service_instance_id"] = creds.service_instance_id
    else:
        return None
    if backend == "aws_s3":
        section["region"] = store.region
    else:
        section["endpoint"] = store.endpoint
        if backend == "ibm_cos":
            section["region"] = store.region
    return backend, section


#: Lithops compute backends and how each is billed. Code Engine runs Lithops functions as job runs,
#: which receive no HTTP requests, so its request fee does not apply.
#: Lithops' defaults where a config names none (lithops/serverless/backends/*/config.py, 3.x).
LITHOPS_DEFAULT_MEMORY_MB = 256
LITHOPS_DEFAULT_CPU = {"code_engine": 0.125}
BACKEND_BILLING: dict[str, Billing] = {
    "localhost": Billing(),
    "aws_lambda": Billing("serverless", "aws_lambda"),
    "ibm_cf": Billing("serverless", "ibm_cloud_functions"),
    "code_engine": Billing("serverless", "ibm_code_engine", bills_requests=False),
}


class LithopsExecutor(Executor):
    name = "lithops"
    # A call starts a fresh process that loads the models again: one call per worker keeps cold
    # starts to one per slot, and a warm start is impossible.
    chunks_per_worker = 1
    fresh_process_per_call = True
    can_start_warm = False
    isolates_failures = True  # every call runs in a process of its own: a death takes only its chunk

    @classmethod
    def from_settings(cls, workers: int, settings: Mapping[str, Any]) -> LithopsExecutor:
        store = settings.get("store")
        return cls(
            workers,
            config_file=settings.get("lithops_config"),
            store=store if store is not None and store.kind == "s3" else None,
        )

    @classmethod
    def billing_for(cls, backend: str) -> Billing:
        return BACKEND_BILLING.get(backend, Billing("unpriced"))

    @property
    def billing(self) -> Billing:
        """As the backend bills, with the memory (and vCPU) the functions were configured with:
        the config's ``runtime_memory``/``runtime_cpu``, else Lithops' own defaults."""
        billing = type(self).billing_for(self.backend)
        if billing.kind != "serverless":
            return billing
        section = self.config.get(self.backend, {}) or {}
        memory = float(section.get("runtime_memory", LITHOPS_DEFAULT_MEMORY_MB))
        cpu = section.get("runtime_cpu", LITHOPS_DEFAULT_CPU.get(self.backend))
        return replace(billing, memory_mb=memory, vcpu=float(cpu) if cpu is not None else None)

    def billed_durations_s(self) -> list[float] | None:
        return list(self._billed) if self._billed else None

    def __init__(self, workers: int, config_file: str | Path | None = None, store: Any = None) -> None:
        super().__init__(workers)
        found, self.config_source = find_config_file(config_file)
        config_file = found
        self.config = load_config(config_file, workers)
        # Where the run's store is an S3 endpoint, Lithops keeps its own objects (function, data,
        # results) there too, as PyWren did in the pattern; a storage the user's config names wins.
        found = storage_config(store) if store is not None else None
        if found is not None and (config_file is None or "storage" not in self.config["lithops"]):
            self.config["lithops"]["storage"], self.config[found[0]] = found[0], found[1]
        self._fexec = None
        self._billed: list[float] = []

    @property
    def backend(self) -> str:
        return self.config["lithops"].get("backend", "localhost")

    def describe(self) -> dict[str, Any]:
        storage = self.config["lithops"].get("storage", "localhost")
        return {**super().describe(), "storage": storage, "config": self.config_source}

    def preflight(self) -> None:
        """Import the configured compute and storage backends, which fails if their SDKs are missing."""
        lithops = self.config["lithops"]
        wanted = {
            "backend": (
                lithops.get("backend", "localhost"),
                ("serverless.backends", "standalone.backends", ""),
            ),
            "storage": (lithops.get("storage", "localhost"), ("storage.backends", "")),
        }
        for kind, (name, packages) in wanted.items():
            candidates = [".".join(p for p in ("lithops", package, name) if p) for package in packages]
            for module in candidates:
                try:
                    import_module(module)
                    break
                except ModuleNotFoundError as exc:
                    if exc.name not in candidates and exc.name != "lithops." + name:
                        raise UserError(
                            f"Lithops {kind} {name!r} needs the package {exc.name!r}: pip install it"
                        ) from None
            else:
                raise UserError(f"the Lithops config names {kind} {name!r}, which Lithops does not provide")

    def start(self) -> None:
        import lithops

        try:
            self._fexec = lithops.FunctionExecutor(config=self.config, workers=self.workers)
        except Exception as exc:  # Lithops raises plain Exceptions for unknown or broken backends
            raise UserError(f"cannot start Lithops with backend {self.backend!r}: {exc}") from None

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._fexec is not None and isinstance(exc_type, type) and issubclass(exc_type, KeyboardInterrupt):
            # Interrupted (Ctrl-C, SIGTERM): stop the calls still running (Lithops' own exit does),
            # or the client would wait for them at exit, and their storage would vanish under them.
            with contextlib.suppress(Exception):
                self._fexec.__exit__(None, None, None)
        self.close()

    def close(self) -> None:
        if self._fexec is not None:
            if self.config["lithops"].get("storage", "localhost") == "localhost":
                self._fexec.clean(clean_cloudobjects=True)
            else:  # Lithops' clean() would pickle the storage keys into a file for its cleaner process
                clean_jobs_now(self._fexec)
            self._fexec = None

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        from lithops.wait import ANY_COMPLETED

        futures = self._fexec.map(fn, [(item,) for item in items])
        index = {id(f): i for i, f in enumerate(futures)}
        pending = list(futures)
        while pending:
            done, pending = self._fexec.wait(
                pending,
                return_when=ANY_COMPLETED,
                throw_except=False,
                show_progressbar=False,
                wait_dur_sec=MONITORING_INTERVAL_S,
            )
            for future in done:
                stats = getattr(future, "stats", None) or {}
                if "worker_exec_time" in stats:  # the function's own duration, as the platform bills it
                    self._billed.append(float(stats["worker_exec_time"]))
                try:
                    yield index[id(future)], future.result()
                except Exception as exc:
                    yield index[id(future)], exc


def clean_jobs_now(fexec: Any) -> None:
    """Delete what this executor's jobs left in storage, here and now, as Lithops' cleaner would.

    Lithops' ``clean()`` hands the job to a background cleaner process through a pickled request in
    its temp folder, storage configuration (keys included) and all; the request stays there when the
    cleaner cannot reach the store (the embedded endpoint is gone by then). Cleaning synchronously
    keeps the keys off the disk.
    """
    from lithops.constants import JOBS_PREFIX, TEMP_PREFIX
    from lithops.storage.utils import clean_bucket, create_job_key

    storage = fexec.internal_storage.storage
    jobs = sorted({create_job_key(f.executor_id, f.job_id) for f in fexec.futures})
    prefixes = [f"{root}/{job}/" for job in jobs for root in (JOBS_PREFIX, TEMP_PREFIX)]
    for prefix in [*prefixes, f"{JOBS_PREFIX}/{fexec.executor_id}/"]:  # the jobs' data, then the function
        # leftovers are temporary data in the user's bucket, never a reason to fail the run
        with contextlib.suppress(Exception):
            clean_bucket(storage, storage.bucket, prefix)
