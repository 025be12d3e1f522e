"""A run: every case (executor x workers x chunk size x kernel x repeat) over one dataset, verified.

The sequential case runs first and is the reference: every other case must produce, for every image,
the same status and the same output bytes. Tables are rewritten after each case, so an interrupted
run leaves its finished cases on disk.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from bench import tables
from bench.analysis.billing import choose_machine, cost_of_case
from bench.analysis.pricebook import load_price_book
from bench.analysis.quality import quality
from bench.analysis.statistics import (
    case_summary,
    chunks_in_flight,
    disturbance_notes,
    with_case_statistics,
)
from bench.analysis.utilisation import tail_idle_s
from bench.errors import UserError
from bench.executors import BUILTIN, REFERENCE, Executor, executor_class, executor_name
from bench.executors.chunking import chunk_size_for, chunk_sizes
from bench.kernels import kernel_name, kernel_of
from bench.run import contention, environment, faults, load
from bench.run.repeats import AUTO, DEFAULT_BUDGET_S, Rounds
from bench.run.task import (
    CaseContext,
    Chunk,
    failed_record,
    gather_chunks,
    preload_models,
    prepare_worker,
    run_chunk,
    unload_models,
)
from bench.stores.base import Store
from bench.stores.local import LocalStore
from bench.stores.plan import RunStorage
from pipelines.datasets import Dataset, DatasetError, load_dataset
from pipelines.kernels import FAITHFUL

WARMUP_IMAGES = 4
QUALITY_FILE = "quality.parquet"
_NO_OUTPUT = {"output_sha256": "", "bytes_out": 0}


@dataclass
class RunConfig:
    """Everything a run is asked to do; recorded verbatim in the manifest."""

    dataset: str = "synthetic"
    list_file: str | None = None
    executors: list[str] = field(default_factory=lambda: list(BUILTIN))
    workers: list[int] = field(default_factory=lambda: list(range(1, (os.cpu_count() or 1) + 1)))
    chunk_sizes: list[int | None] = field(default_factory=lambda: [None])  # None: the executor's default
    # interleaved rounds: every case once, then every case again (drift spreads evenly); "auto": until
    # every case's interval is within +-5% or budget_s of rounds is spent (bench/run/repeats.py)
    repeats: int | str = AUTO
    budget_s: float = DEFAULT_BUDGET_S
    kernels: list[str] = field(default_factory=lambda: [FAITHFUL])
    # cold: every worker loads the models inside the clock; warm: loaded in every worker before it
    starts: list[str] = field(default_factory=lambda: ["cold"])
    exclude: list[dict] = field(default_factory=list)  # cases matching all fields of one entry are dropped
    warmup: bool = True  # one small unrecorded case per executor first (imports, page cache)
    # the machine's contention probe (bench/run/contention.py), measured once per machine and cached,
    # recorded in the manifest where a case has several workers; off: neither measured nor recorded
    contention_probe: bool = True
    suite: str | None = None  # the suite file's name, when the run came from one
    out: str = "results/runs"
    dask_scheduler: str | None = None
    lithops_config: str | None = None
    keep_outputs: bool = False
    progress: bool = True
    price_book: str | None = None  # None: the packaged bench/analysis/pricebook.toml
    machine: str | None = None  # price local cases as this price-book machine (default: by vCPU count)
    price_per_hour: float | None = None  # or at this hourly price (a machine the book does not list)
    store: str | None = None  # None: the dataset's folder; a folder, s3://bucket/prefix or embedded-s3
    endpoint: str | None = None  # an s3:// store's endpoint URL (default AWS S3); never credentials
    retries: int = 2  # resubmissions of a chunk whose worker was lost (bench/faults.py)
    task_timeout: float | None = None  # seconds one image may take; None: no limit

    def validate(self) -> None:
        for name in self.executors:
            executor_class(name)  # raises UserError for an unknown or uninstallable executor
        if not self.workers or min(self.workers) < 1:
            raise UserError("--workers takes positive integers, e.g. 1,2,4")
        if any(c is not None and c < 1 for c in self.chunk_sizes) or not self.chunk_sizes:
            raise UserError("--chunk-size takes positive integers or 'auto'")
        if self.repeats != AUTO and not (isinstance(self.repeats, int) and self.repeats >= 1):
            raise UserError(f"--repeats takes 'auto' or a whole number of at least 1, not {self.repeats!r}")
        if not self.budget_s > 0:
            raise UserError("--budget must be a positive number of seconds")
        if self.retries < 0:
            raise UserError("--retries must be 0 or more")
        if self.task_timeout is not None and not self.task_timeout > 0:
            raise UserError("--task-timeout must be a positive number of seconds")
        if not self.starts or not set(self.starts) <= {"cold", "warm"}:
            raise UserError(f"--start takes cold, warm or cold,warm, not {','.join(self.starts)}")
        if not self.kernels:
            raise UserError("--kernel takes at least one kernel, e.g. optimized")
        names = [kernel_name(spec) for spec in self.kernels]  # raises UserError for an unknown kernel
        if len(set(names)) < len(names):
            raise UserError(f"--kernel names a kernel twice: {', '.join(self.kernels)}")


@dataclass(frozen=True)
class Case:
    executor: str  # the name the tables record
    workers: int
    chunk_size: int
    kernel: str  # the name the tables record
    start: str = "cold"  # cold or warm (models loaded in every worker before the clock)
    spec: str = field(default="", compare=False)  # as asked for: a name or package.module:Class
    kernel_spec: str = field(default="", compare=False)  # as asked for: a name or package.module:name
    auto_chunk: bool = field(default=True, compare=False)  # the harness chose the chunk size

    @property
    def executor_spec(self) -> str:
        return self.spec or self.executor

    @property
    def kernel_asked(self) -> str:
        return self.kernel_spec or self.kernel

    @property
    def case_id(self) -> str:
        warm = "-warm" if self.start == "warm" else ""  # cold case ids as they always were
        return f"{self.executor}-{self.kernel}-w{self.workers}-c{self.chunk_size}{warm}"


@dataclass
class RunResult:
    run_dir: Path
    tasks: pd.DataFrame
    runs: pd.DataFrame

    @property
    def identical(self) -> bool:
        return bool(self.runs["identical"].fillna(False).astype(bool).all())

    def errors(self) -> str | None:
        """One line on the images that ended as ``error`` (the harness or the environment failed,
        unlike ``no_face`` and ``bad_input``, which are answers), or None when there are none. A
        broken environment fails every case alike, so 'identical' alone would not catch it."""
        errors = self.tasks[self.tasks["status"] == "error"]
        if errors.empty:
            return None
        reasons = errors["error"].fillna("").str.split("\n").str[0].str.slice(0, 160).value_counts()
        top = "; ".join(f"{n} x {reason!r}" for reason, n in reasons.head(2).items())
        cases = errors["case_id"].nunique()
        return (
            f"{len(errors)} image result(s) in {cases} case(s) ended as error (the harness or the "
            f"environment failed, not the images): {top}"
        )

    def bad_inputs(self, shown: int = 5) -> str | None:
        """One line on the images that could not be read as images (``bad_input``): how many distinct
        images, not images x cases, and the first ``shown`` by name with their reasons; None if none."""
        bad = self.tasks[self.tasks["status"] == "bad_input"].drop_duplicates("key").sort_values("key")
        if bad.empty:
            return None
        reasons = (
            bad["error"].fillna("no reason recorded").astype(str).str.split("\n").str[0].str.slice(0, 100)
        )
        named = "; ".join(
            f"{key} ({reason})" for key, reason in zip(bad["key"][:shown], reasons[:shown], strict=True)
        )
        more = (
            f"; and {len(bad) - shown} more (status bad_input in tasks.parquet)" if len(bad) > shown else ""
        )
        return f"{len(bad)} image(s) could not be read as images (bad_input): {named}{more}"

    @property
    def ok(self) -> bool:
        return self.identical and self.errors() is None


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def excluded(case: Case, rules: list[dict]) -> bool:
    """Whether one rule matches the case on every field it names (a value or a list of values)."""
    for rule in rules:
        wanted = {k: v if isinstance(v, list) else [v] for k, v in rule.items()}
        if all(getattr(case, k) in v for k, v in wanted.items()):
            return True
    return False


def make_executor(config: RunConfig, name: str, workers: int, store: Store | None = None) -> Executor:
    """The executor for one case; it takes from the run's settings what concerns it."""
    settings = {**asdict(config), "store": store}
    return executor_class(name).from_settings(workers, settings)


def output_digest(keys: list[str], statuses: list[str], digests: list[str]) -> str:
    """One digest for a case's whole output: per-image status and crop digest, in key order."""
    h = hashlib.sha256()
    for key, status, digest in sorted(zip(keys, statuses, digests, strict=True)):
        h.update(f"{key}\t{status}\t{digest}\n".encode())
    return h.hexdigest()


def _account(case_records: list[dict], keys: tuple[str, ...], t_submit: float) -> list[dict]:
    """Exactly one record per input key. A key that came back twice (the harness or an executor
    delivered it twice) becomes an error naming the duplicate, so that it counts against its case; a
    key that never came back is an error too; a record for a key not asked for is an error."""
    seen: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for rec in case_records:
        counts[rec["key"]] = counts.get(rec["key"], 0) + 1
        seen.setdefault(rec["key"], rec)
    stray = sorted(set(seen) - set(keys))
    for key in keys:
        if key not in seen:
            seen[key] = failed_record(key, -1, t_submit, "no record came back for this image", **_NO_OUTPUT)
        elif counts[key] > 1:
            first = seen[key]
            reason = f"{counts[key]} records came back for this image (a duplicate)"
            if stray:
                reason += f"; and {len(stray)} for keys never asked for, e.g. {stray[0]}"
            seen[key] = {**first, "status": "error", "error": reason, **_NO_OUTPUT}
    if stray and not any(counts[k] > 1 for k in keys):  # charge a stray record to the case's first image
        first = seen[keys[0]]
        reason = f"{len(stray)} record(s) came back for keys never asked for, e.g. {stray[0]}"
        seen[keys[0]] = {**first, "status": "error", "error": reason, **_NO_OUTPUT}
    return [seen[k] for k in keys]


class Run:
    """One invocation of ``facebench run``: owns the run folder and the growing tables."""

    def __init__(self, config: RunConfig, log: Callable[[str], None] = print) -> None:
        config.validate()
        self.config = config
        self.log = log
        #: name -> what the kernel declares (bench/kernels.py), in the order asked for
        self.kernels = {kernel_name(s): kernel_of(s).declaration() for s in config.kernels}
        try:
            self.dataset: Dataset = load_dataset(config.dataset, config.list_file)
        except DatasetError as exc:
            raise UserError(str(exc)) from None
        for case in self.cases():
            make_executor(config, case.executor_spec, case.workers).preflight()
        # A store is checked here (credentials, endpoint, bucket, images); embedded-s3 starts in execute.
        self.storage = RunStorage(config.store, config.endpoint, self.dataset, log, config.progress)
        self.inputs: Store = self.storage.inputs
        self.run_id = new_run_id()
        self.run_dir = Path(config.out) / self.run_id
        try:
            self.price_book = load_price_book(config.price_book)
            self.machine = choose_machine(
                self.price_book,
                vcpus=environment.vcpu_count(),
                name=config.machine,
                per_hour=config.price_per_hour,
            )
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot use the price book: {exc}") from None
        self.task_frames: list[pd.DataFrame] = []
        self.run_rows: list[dict] = []
        self.reference: dict[tuple[str, int], pd.DataFrame] = {}  # (kernel, repeat) -> reference tasks
        self.done: set[tuple[str, int]] = set()  # (case_id, repeat) finished before a resume
        self.resumed = False  # bench/resume.py: the run folder exists already
        self.manifest = {
            "run_id": self.run_id,
            "config": asdict(config),
            "dataset": {
                "name": self.dataset.name,
                "root": str(self.dataset.root),
                "images": len(self.dataset),
            },
            "environment": environment.describe(),
            "price_book": {"version": self.price_book.version, "path": str(self.price_book.path)},
            "machine": self.machine.to_json(),  # what local cases are priced as, and why
            "store": self.storage.manifest,  # url, endpoint, emulated latency; no credentials
            # what each executor declared (chunking, fresh process per call, warm start): the
            # analysis reads these, so an executor from outside the harness needs no table anywhere
            "executors": {
                c.executor: executor_class(c.executor_spec).traits().to_json() for c in self.cases()
            },
            # what each kernel declared (models, what it approximates, its output, per-image loads):
            # the same for kernels, so the analysis of a saved run never imports one
            "kernels": self.kernels,
            "started_at": datetime.now(UTC).isoformat(),
            "ended_at": None,
        }
        for note in self.not_startable_warm():  # said, not pretended: these run cold only
            log(f"note: {note}")
            self.manifest.setdefault("notes", []).append(note)
        try:
            faults.note_injection(self.manifest, log)  # tests only: says so loudly
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def kernel_specs(self) -> list[str]:
        """The kernels asked for, a kernel that reproduces another after that one, so that its cases
        are checked against the reference they must reproduce (naive after optimized)."""
        specs = list(self.config.kernels)
        first = [s for s in specs if not self.reproduced(kernel_name(s))]
        return first + [s for s in specs if s not in first]

    def reproduced(self, name: str) -> str | None:
        """The kernel of this run whose bytes kernel ``name`` declares it reproduces, if any."""
        declared = self.kernels[name]
        target = declared["approximates"] if declared["reproduces"] else None
        return target if target in self.kernels and target != name else None

    def cases(self) -> list[Case]:
        """Per kernel, its sequential reference first (cold), then the matrix less the exclusions.

        A warm start is run only by executors and kernels that declare they can start warm (a kernel
        that loads its models for every image, as naive does by design, is always cold)."""
        n, cfg = len(self.dataset), self.config
        cases = []
        for kspec in self.kernel_specs():
            kernel = kernel_name(kspec)
            can_warm = self.kernels[kernel]["can_start_warm"]
            size = chunk_size_for(REFERENCE, n, 1, cfg.chunk_sizes[0])
            cases.append(
                Case(REFERENCE, 1, size, kernel, kernel_spec=kspec, auto_chunk=cfg.chunk_sizes[0] is None)
            )
            for start in cfg.starts:
                for spec in cfg.executors:
                    name, traits = executor_name(spec), executor_class(spec).traits()
                    if start == "warm" and (not traits.can_start_warm or not can_warm):
                        continue
                    for w in [1] if traits.in_process else cfg.workers:
                        for chunk in cfg.chunk_sizes if not traits.in_process else cfg.chunk_sizes[:1]:
                            size = chunk_size_for(traits, n, w, chunk)
                            case = Case(
                                name, w, size, kernel, start=start, spec=spec, kernel_spec=kspec,
                                auto_chunk=chunk is None,
                            )  # fmt: skip
                            if case not in cases and not excluded(case, cfg.exclude):
                                cases.append(case)
        return cases

    def guided(self, case: Case) -> bool:
        """Shrinking chunks at the tail where the harness chose the chunk size and a call does not pay
        a fresh process (bench/executors/chunking.py); a chunk size the user asked for is kept."""
        traits = executor_class(case.executor_spec).traits()
        return case.auto_chunk and not traits.fresh_process_per_call and not traits.in_process

    def not_startable_warm(self) -> list[str]:
        """Executors asked to start warm that cannot, with the reason, for the log and the manifest."""
        if "warm" not in self.config.starts:
            return []
        return [
            f"{executor_name(spec)} cannot start warm: every call is a fresh process that loads the models"
            if executor_class(spec).fresh_process_per_call
            else f"{executor_name(spec)} does not declare a warm start (can_start_warm)"
            for spec in self.config.executors
            if not executor_class(spec).can_start_warm
        ]

    def outputs_for(self, case: Case, repeat: int) -> Store:
        remote = self.storage.outputs(self.run_id, case.case_id + (f"-r{repeat}" if repeat else ""))
        if remote is not None:  # <prefix>/output/<run_id>/<case_id>/<key>
            return remote
        if case.executor == REFERENCE and repeat == 0:
            return LocalStore(tables.output_folder(self.run_dir, case.kernel))
        return LocalStore(self.run_dir / "scratch" / f"{case.case_id}-r{repeat}")

    def execute(self) -> RunResult:
        """Every case and repeat, into the run folder. A run refused (UserError) before its first case
        finished leaves no folder behind: it holds nothing the user could use or resume."""
        self.run_dir.mkdir(parents=True, exist_ok=self.resumed)
        try:
            return self._execute()
        except UserError:
            if not self.resumed and not self.run_rows:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise

    def _execute(self) -> RunResult:
        tables.write_json(self.manifest, self.run_dir / "manifest.json")
        self.log(f"run {self.run_id}: {self.dataset.name}, {len(self.dataset)} images -> {self.run_dir}")
        with self.storage:  # embedded-s3: start the endpoint and stage the dataset; stop it after
            self.inputs = self.storage.inputs
            if self.config.warmup and not self.resumed:
                self.warm_up()
            if self.config.contention_probe and not self.resumed and max(c.workers for c in self.cases()) > 1:
                self.probe_contention()
            self.rounds()
        if not self.config.keep_outputs:
            shutil.rmtree(self.run_dir / "scratch", ignore_errors=True)
        self.manifest["ended_at"] = datetime.now(UTC).isoformat()
        result = self.save()
        if len(self.kernels) > 1:
            table = pd.read_parquet(self.run_dir / QUALITY_FILE)
            self.log(f"quality against the faithful kernel ({QUALITY_FILE}):")
            self.log(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for note in disturbance_notes(result.runs):
            print(f"facebench: warning: {note}", file=sys.stderr, flush=True)
        return result

    def rounds(self) -> None:
        """Interleaved repeats (A B C A B C): slow drift of a shared machine spreads over every case.
        Each case gets freshly started workers, so every repeat measures the same thing. A round begun
        before an interruption is finished; a new one starts only as the stopping rule says."""
        rule = Rounds(self.config.repeats, self.config.budget_s, self.manifest.get("repeats"))
        every = self.cases()
        for repeat in itertools.count():
            cases = [c for c in every if (c.case_id, repeat) not in self.done]
            if every and not cases:
                continue  # finished before the run was interrupted (bench/resume.py)
            begun = len(cases) < len(every)
            if not begun and not rule.another(repeat, tables.runs_frame(self.run_rows)):
                break
            t0 = time.monotonic()
            for case in cases:
                executor = make_executor(self.config, case.executor_spec, case.workers, self.inputs)
                warm = partial(preload_models, case.kernel_asked)
                executor.warm_load = warm if case.start == "warm" else None
                executor.worker_setup = partial(prepare_worker, self.inputs, kernel=case.kernel_asked)
                with executor:  # workers up (warm: with their models) before the clock
                    self.run_case(case, repeat, executor)
                self.save()
            rule.ended(time.monotonic() - t0)
            self.manifest["repeats"] = rule.to_json()  # on disk now: a resume counts what was spent
            tables.write_json(self.manifest, self.run_dir / "manifest.json")
        self.manifest["repeats"] = rule.to_json()
        if rule.note():
            self.log(f"note: {rule.note()}")

    def probe_contention(self) -> None:
        """The machine's slowdown per busy core, for the scaling model: cached, else a few seconds."""
        found = contention.cached_probe()
        if found is not None and found.get("disturbed"):
            print(
                f"facebench: warning: the contention probe ran beside {found['background_cpu']:.2f} cores of "
                "other work: not used and not cached (the next run on a quiet machine measures it again)",
                file=sys.stderr,
                flush=True,
            )
        elif found is not None:
            self.manifest["contention"] = found
            self.log(f"contention probe: {found['cached']}")

    def warm_up(self) -> None:
        """One small case per executor before any measured one, recorded in the manifest only."""
        keys = self.dataset.keys[:WARMUP_IMAGES]
        warmups = self.manifest.setdefault("warmups", [])
        if isinstance(self.inputs, LocalStore):
            # The page cache: every input read once before any case, so that the sequential case,
            # which runs first, does not pay cold reads that the cases after it are spared.
            for key in self.dataset.keys:
                self.inputs.get(key)
            self.manifest["page_cache_warmed"] = len(self.dataset.keys)
        for name, spec in {c.executor: c.executor_spec for c in self.cases()}.items():
            workers = 1 if name == REFERENCE else min(self.config.workers)
            scratch = LocalStore(self.run_dir / "scratch" / f"warmup-{name}")
            fn = partial(run_chunk, ctx=CaseContext(self.inputs, scratch, self.config.kernels[0]))
            with make_executor(self.config, spec, workers, self.inputs) as executor:
                t0 = time.perf_counter()
                chunks = [Chunk(i, (k,), time.time()) for i, k in enumerate(keys)]
                failed = sum(isinstance(r, BaseException) for _, r in executor.map_unordered(fn, chunks))
            wall_s = time.perf_counter() - t0
            warmups.append(
                dict(executor=name, workers=workers, images=len(keys), wall_s=wall_s, failed=failed)
            )
            shutil.rmtree(scratch.root, ignore_errors=True)

    def run_case(self, case: Case, repeat: int, executor: Executor) -> None:
        keys = self.dataset.keys
        self.manifest.setdefault("executor_settings", {}).setdefault(case.executor, executor.describe())
        # One rule for every executor. Cold: no worker has the models when the clock starts (fresh
        # workers, or workers that outlive cases told to forget them). Warm: every worker has them.
        if case.start == "cold":
            if executor.in_process:
                unload_models()
            executor.run_on_workers(unload_models)
        outputs = self.outputs_for(case, repeat)
        ctx = CaseContext(self.inputs, outputs, case.kernel_asked, self.config.task_timeout, os.getpid())
        fn = partial(run_chunk, ctx=ctx)
        dispatch = faults.Dispatch(executor, self.config.retries, self.log)
        bar = tqdm(
            total=len(keys),
            desc=f"{case.case_id} r{repeat}",
            unit="img",
            disable=not self.config.progress,
            leave=False,
        )
        sizes = chunk_sizes(len(keys), case.chunk_size, case.workers, guided=self.guided(case))
        before = load.sample()
        gathered, t0_wall, wall_s = gather_chunks(
            dispatch.map, fn, keys, case.chunk_size, _NO_OUTPUT, bar, sizes=sizes
        )
        other_work = load.between(before, load.sample())
        bar.close()
        scratch = isinstance(outputs, LocalStore) and outputs.root.parent.name == "scratch"
        if scratch and not self.config.keep_outputs:
            shutil.rmtree(outputs.root, ignore_errors=True)
        tasks = tables.tasks_frame(_account(gathered, keys, t0_wall))
        label = dict(zip(self.dataset.keys, self.dataset.labels, strict=True))
        tasks["label"] = tasks["key"].map(label)
        tasks = tasks.assign(
            run_id=self.run_id,
            case_id=case.case_id,
            repeat=repeat,
            executor=case.executor,
            backend=executor.backend,
            workers=case.workers,
            chunk_size=case.chunk_size,
            kernel=case.kernel,
            start=case.start,
            store=self.inputs.kind,
        )
        tasks = tables.tasks_frame(tasks.to_dict("records"))
        down = faults.store_down(list(tasks["error"]), self.inputs.url)
        if down:  # one line, not one error per image; what finished before is on disk
            kept = f" Finished cases are in {self.run_dir}" if self.run_rows or self.resumed else ""
            raise UserError(f"{down}; is it reachable?{kept}")
        problems: list[str] = []
        if self.storage.is_object_store:  # every crop accounted for; the reference's collected locally
            reference = case.executor == REFERENCE and repeat == 0
            collect_to = tables.output_folder(self.run_dir, case.kernel) if reference else None
            problems = self.storage.settle(outputs, tasks, collect_to)
            for problem in problems:
                self.log(f"  {case.case_id} r{repeat}: {problem}")
        self.task_frames.append(tasks)
        self.run_rows.append(self.summarise(case, repeat, executor, tasks, wall_s))
        row = self.run_rows[-1]
        if problems:  # crops missing from the store, stray or of the wrong size: not the reference's output
            row["identical"] = False
        row["retries"] = dispatch.retries  # chunk resubmissions after lost workers
        row["store_retries"] = int(tasks.get("store_retries", pd.Series([0])).fillna(0).sum())
        row.update(other_work)  # background_cpu, steal_cpu (bench/run/load.py)
        self.log(
            f"  {case.case_id:<32} r{repeat}  {wall_s:7.2f} s  {row['images_per_s']:7.1f} img/s  "
            f"ok {row['ok']}/{row['images']}  identical {row['identical']}"
        )

    def summarise(
        self, case: Case, repeat: int, executor: Executor, tasks: pd.DataFrame, wall_s: float
    ) -> dict:
        if case.executor == REFERENCE:
            self.reference.setdefault((case.kernel, repeat), tasks)
        # A kernel's outputs are checked against its own sequential reference; a kernel that declares
        # it reproduces another (naive: optimized's bytes) against that one's, where the run has it.
        # Across kernels that approximate, the run measures quality instead (quality.parquet).
        target = self.reproduced(case.kernel) or case.kernel
        ref = self.reference.get((target, repeat), self.reference.get((target, 0)))
        ref_sha = ref.set_index("key")[["status", "output_sha256"]]
        mine = tasks.set_index("key")[["status", "output_sha256"]]
        identical = bool(mine.reindex(ref_sha.index).equals(ref_sha))
        ref_walls = [
            r["wall_s"] for r in self.run_rows if r["executor"] == REFERENCE and r["kernel"] == case.kernel
        ]
        ref_wall = float(pd.Series(ref_walls or [wall_s]).median())
        speedup = ref_wall / wall_s if wall_s > 0 else float("nan")
        cost_usd, cost_model = self.price(case, executor, tasks, wall_s)
        return {
            "run_id": self.run_id,
            "case_id": case.case_id,
            "repeat": repeat,
            "executor": case.executor,
            "backend": executor.backend,
            "workers": case.workers,
            "chunk_size": case.chunk_size,
            "kernel": case.kernel,
            "start": case.start,
            "chunking": "auto" if case.auto_chunk else "asked",
            "cold_starts": int(tasks["cold_start"].fillna(False).astype(bool).sum()),
            "store": self.inputs.kind,
            "images": len(tasks),
            "ok": int((tasks["status"] == "ok").sum()),
            "wall_s": wall_s,
            "images_per_s": len(tasks) / wall_s,
            "speedup": speedup,
            "efficiency": speedup / case.workers,
            "cost_usd": cost_usd,
            "cost_model": cost_model,
            "cpu_s": float(tasks["cpu_s"].sum()),
            "max_in_flight": chunks_in_flight(tasks[tasks["chunk_id"] >= 0]),
            "tail_idle_s": tail_idle_s(tasks, case.workers),
            "chunks": int(tasks["chunk_id"].nunique()),
            "peak_rss_mb": float(tasks["worker_rss_mb"].max()),
            "worker_pss_mb": float(tasks.groupby("pid")["worker_pss_mb"].max().median()),
            "output_digest": output_digest(
                list(tasks["key"]), list(tasks["status"]), list(tasks["output_sha256"])
            ),
            "identical": identical,
        }

    def price(self, case: Case, executor: Executor, tasks: pd.DataFrame, wall_s: float) -> tuple[float, str]:
        """Bill the case as its platform would: the machine for the wall time, or per function call for
        the duration the platform bills (the executor's own accounting where it has one, else each
        chunk's span on the worker's clock), at the memory the functions were configured with."""
        per_chunk = tasks.groupby("chunk_id").agg(start=("t_start", "min"), end=("t_end", "max"))
        billed = executor.billed_durations_s()
        return cost_of_case(
            self.price_book,
            billing=executor.billing,
            machine=self.machine,
            workers=case.workers,
            wall_s=wall_s,
            durations_s=billed if billed is not None else list(per_chunk["end"] - per_chunk["start"]),
            store=self.inputs.kind,
            gets=len(tasks),
            puts=int((tasks["bytes_out"] > 0).sum()),
        )

    def save(self) -> RunResult:
        tasks = pd.concat(self.task_frames, ignore_index=True) if self.task_frames else tables.tasks_frame([])
        runs = with_case_statistics(tables.runs_frame(self.run_rows))
        tables.write_parquet(tasks, self.run_dir / "tasks.parquet")
        tables.write_parquet(runs, self.run_dir / "runs.parquet")
        if len(self.kernels) > 1 and not tasks.empty:  # across kernels: quality, not byte-identity
            tables.write_parquet(
                quality(tasks, self.manifest, self.dataset.truth), self.run_dir / QUALITY_FILE
            )
        tables.write_json(self.manifest, self.run_dir / "manifest.json")
        return RunResult(self.run_dir, tasks, runs)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per case, the median over repeats and its 95% interval: what the CLI prints
    (bench/analysis/statistics.py). What the repeats cannot give reads "not measured", never a number."""
    table = case_summary(runs)

    def text(low: pd.Series, high: pd.Series | None = None, fmt: str = "{:.2f}") -> list[str]:
        shown = low.map(fmt.format) if high is None else low.map(fmt.format) + "-" + high.map(fmt.format)
        return ["not measured" if pd.isna(lo) else value for lo, value in zip(low, shown, strict=True)]

    out = table[["executor", "kernel", "start", "workers", "chunk_size", "repeats", "wall_s"]].copy()
    out["wall_s 95% CI"] = text(table["wall_s_ci_low"], table["wall_s_ci_high"])
    out["spread"] = text(table["spread"], fmt="{:.0%}")
    out["images_per_s"] = table["images_per_s"]
    out["images_per_s 95% CI"] = text(table["images_per_s_ci_low"], table["images_per_s_ci_high"])
    out["speedup"] = table["speedup"]
    out["speedup 95% CI"] = text(table["speedup_ci_low"], table["speedup_ci_high"])
    return out.join(table[["efficiency", "ok", "images", "identical"]])
