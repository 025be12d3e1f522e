"""Faults a run survives: lost chunks are retried, a stuck image is cut off, and tests inject faults.

- :class:`Dispatch` runs a case's chunks on an executor and resubmits the chunks whose worker was lost
  (a killed process, a broken pool, a Dask ``KilledWorker``, a Lithops call that died) up to
  ``retries`` more times; what still fails comes back as :class:`ChunkLost`, and the runner marks
  those images ``error`` with the reason. ``Dispatch.retries`` is how many resubmissions the case
  needed (the ``retries`` column of the runs table).
- :class:`Watchdog` gives every image of a chunk a deadline (``--task-timeout``). Past it, the image
  is cut off with :class:`TaskTimeout` raised in the thread that works on it (a signal in a process's
  main thread, which also interrupts a blocking call; an asynchronous exception in any other thread,
  such as a Dask worker's), and recorded as ``error: timed out after S s``. Code that never returns to
  the interpreter (stuck inside a C library) cannot be interrupted that way: if the image is still
  running after a second period, the watchdog ends the worker process (never the client), the chunk
  is lost and retried like any other, and after the retries its images are errors.
- :func:`inject` is the tests' way of making a worker hang, pause (so that the test can kill it) or
  die on a given image. It does nothing unless ``FACEBENCH_INJECT_FAULTS`` is set in the environment,
  and a run with it set says so on its first lines and in its manifest (docs/reliability.md).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

#: Test-only fault injection: JSON ``{"dir": FOLDER, "keys": {KEY: ACTION}}``; see :func:`inject`.
INJECT_VAR = "FACEBENCH_INJECT_FAULTS"
INJECT_ACTIONS = ("hang", "hang_hard", "pause", "die")
#: How long an injected hang or pause lasts at most, so that a mistake cannot hang a test forever.
INJECT_MAX_S = 120.0
#: Exit status of a worker process that the watchdog ended because an image would not stop.
EXIT_STUCK = 75


class TaskTimeout(BaseException):
    """Raised in a worker thread whose image ran past its deadline (a BaseException, so that the
    kernel's own ``except Exception`` cannot swallow it)."""


class ChunkLost(Exception):
    """A chunk that still failed after every retry; the message says what happened to it."""


# --- retries of lost chunks ---------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class Dispatch:
    """Run chunks on an executor; resubmit the lost ones (exceptions, not records) up to ``retries``.

    A round submits every pending chunk; the chunks that failed in it are submitted again in the next
    round, on a pool the executor has repaired where it needed to (see ProcessesExecutor). Only what
    was lost is resubmitted: chunks that came back are yielded as soon as they land.

    Where one worker's death takes other chunks down with it (a process pool breaks as a whole; a Dask
    worker holds queued chunks too), a chunk that always kills its worker would take innocent chunks
    down in every round. So on such executors the last attempt runs the remaining chunks one at a
    time: only a chunk that fails on its own is given up. Lithops runs every call in a process of its
    own (``isolates_failures``), so its rounds stay parallel.
    """

    def __init__(self, executor: Any, retries: int = 2, log: Callable[[str], None] = lambda _: None) -> None:
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.executor = executor
        self.max_retries = retries
        self.log = log
        self.retries = 0  # chunk resubmissions
        self.lost = 0  # chunks given up after every retry
        self.events: list[str] = []

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        pending = list(range(len(items)))
        attempt = 1
        while pending:
            failed: dict[int, BaseException] = {}
            isolate = (
                1 < attempt == self.max_retries + 1
                and len(pending) > 1
                and not getattr(self.executor, "isolates_failures", False)
            )
            batches = [[i] for i in pending] if isolate else [pending]
            for batch in batches:
                for j, result in self.executor.map_unordered(fn, [items[i] for i in batch]):
                    if isinstance(result, BaseException):
                        failed[batch[j]] = result
                    else:
                        yield batch[j], result
            if not failed:
                return
            first = describe(next(iter(failed.values())))
            if attempt > self.max_retries:
                self.lost += len(failed)
                self.events.append(f"attempt {attempt}: {len(failed)} chunk(s) lost for good ({first})")
                for i, exc in sorted(failed.items()):
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                    yield i, ChunkLost(f"worker lost, {tries}: {describe(exc)}")
                return
            self.retries += len(failed)
            self.events.append(f"attempt {attempt}: {len(failed)} chunk(s) lost ({first}), resubmitted")
            self.log(f"  {len(failed)} chunk(s) lost ({first}); retry {attempt} of {self.max_retries}")
            pending = sorted(failed)
            attempt += 1


# --- a store that stays down ---------------------------------------------------------------------------

#: After this many images in a row whose fetch or put failed as a store that is down fails (5xx,
#: timeouts, resets, each after the store client's own retries), a worker process stops asking the
#: store for the rest of the case, and marks the images it gets without trying them; after
#: STORE_COOLDOWN_S it tries one image again, and a success closes the breaker.
STORE_BREAKER = 3
STORE_COOLDOWN_S = 30.0
STORE_FAILURES = ("fetch failed", "put failed")
NOT_ATTEMPTED = "not attempted: the store failed"


class StoreBreaker:
    """A circuit breaker over one case's store requests in one worker process (see STORE_BREAKER)."""

    def __init__(self, threshold: int = STORE_BREAKER, cooldown_s: float = STORE_COOLDOWN_S) -> None:
        self.threshold, self.cooldown_s = threshold, cooldown_s
        self.failures, self.last, self.opened_at = 0, "", 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            if self.failures < self.threshold:
                return True
            if time.monotonic() - self.opened_at >= self.cooldown_s:
                self.opened_at = time.monotonic()  # half-open: one image tries, the others wait again
                return True
            return False

    def record(self, unreachable: bool, error: str = "") -> None:
        with self._lock:
            if not unreachable:
                self.failures = 0
                return
            self.failures, self.last = self.failures + 1, error
            if self.failures >= self.threshold:
                self.opened_at = time.monotonic()

    def reason(self) -> str:
        return f"{NOT_ATTEMPTED} {self.failures} times in a row in this worker (last: {self.last[:160]})"


_BREAKERS: dict[str, StoreBreaker] = {}
_BREAKERS_LOCK = threading.Lock()


def store_breaker(scope: str) -> StoreBreaker:
    """This process's breaker for one case (``scope``: the case's output location)."""
    with _BREAKERS_LOCK:
        if scope not in _BREAKERS:
            if len(_BREAKERS) >= 16:  # cases past are done with theirs
                _BREAKERS.pop(next(iter(_BREAKERS)))
            _BREAKERS[scope] = StoreBreaker()
        return _BREAKERS[scope]


def store_down(errors: Sequence[str], store_url: str) -> str | None:
    """One line for a case in which the store failed every image; None where it did not."""
    errors = [str(e or "") for e in errors]
    if not errors or not all(e.startswith((*STORE_FAILURES, NOT_ATTEMPTED)) for e in errors):
        return None
    first = next((e for e in errors if e.startswith(STORE_FAILURES)), errors[0])
    return f"the store {store_url} failed for every image of the case ({first[:200]})"


# --- per-image deadline -----------------------------------------------------------------------------


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in another thread at its next bytecode (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0)
    )


class Watchdog:
    """One per chunk, in the thread that runs the chunk; ``with watchdog.image(): ...`` per image.

    ``seconds`` None or 0: no deadline, and no thread. ``hard_exit``: whether the watchdog may end this
    process when an image ignores the cut-off (never in the client's own process).
    """

    def __init__(self, seconds: float | None, hard_exit: bool = False) -> None:
        self.seconds = seconds if seconds and seconds > 0 else None
        self.hard_exit = hard_exit
        self.grace_s = max(1.0, self.seconds or 0.0)
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._armed = False
        self._fired = False
        self._stop = False
        self._thread_id = threading.get_ident()
        self._main = threading.current_thread() is threading.main_thread()
        self._previous: Any = None
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        if self.seconds is None:
            return self
        if self._main:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        self._watcher = threading.Thread(target=self._watch, name="facebench-watchdog", daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watcher is None:
            return
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._watcher.join()
        if self._main:
            signal.signal(signal.SIGALRM, self._previous)

    @contextmanager
    def image(self) -> Iterator[None]:
        if self._watcher is None:
            yield
            return
        with self._cond:
            self._deadline = time.monotonic() + self.seconds
            self._fired = False  # before arming: a late signal from the last image must not count
            self._armed = True
            self._cond.notify()
        try:
            yield
        finally:
            self._armed = False  # first: a signal handled from here on does nothing
            with self._cond:
                self._deadline = None
                if self._fired and not self._main:
                    _async_raise(self._thread_id, None)  # not delivered yet: no longer wanted

    def _on_alarm(self, signum: int, frame: object) -> None:
        if self._armed and self._fired:
            raise TaskTimeout()

    def _watch(self) -> None:
        with self._cond:
            while not self._stop:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                elif not self._fired:
                    self._fired = True
                    self._deadline = time.monotonic() + self.grace_s
                    if self._main:
                        signal.pthread_kill(self._thread_id, signal.SIGALRM)
                    else:
                        _async_raise(self._thread_id, TaskTimeout)
                elif self.hard_exit:
                    os._exit(EXIT_STUCK)  # the image ignored the cut-off: only ending the process stops it
                else:
                    self._deadline = None  # in the client: nothing more can be done; wait it out


# --- test-only fault injection ------------------------------------------------------------------------


def injection() -> dict | None:
    """The fault-injection spec from the environment, or None (the normal case)."""
    text = os.environ.get(INJECT_VAR)
    if not text:
        return None
    try:
        spec = json.loads(text)
        keys = spec["keys"]
        assert isinstance(keys, dict) and all(a in INJECT_ACTIONS for a in keys.values())
    except Exception:
        raise ValueError(
            f"{INJECT_VAR} must be JSON {{'dir': FOLDER, 'keys': {{KEY: ACTION}}}} with ACTION one of "
            f"{', '.join(INJECT_ACTIONS)}; unset it for a normal run"
        ) from None
    return spec


def marker(spec: dict, key: str, action: str, scope: str = "") -> Path:
    """The file an injected ``pause`` writes its pid to: once per key and scope (a case's outputs)."""
    digest = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()[:12]
    return Path(spec["dir"]) / f"{action}-{digest}.pid"


def inject(key: str, in_worker: bool = True, scope: str = "") -> None:
    """Do what the test asked for this image, if anything; a no-op unless INJECT_VAR is set.

    ``pause`` and ``die`` act only in a worker process, never in the client (``in_worker`` False),
    so that the sequential reference runs through them; there ``hang_hard`` is a plain ``hang``.

    - ``hang``: sleep in short steps until cut off (TaskTimeout), as a kernel stuck in Python would;
    - ``hang_hard``: the same, but ignoring the cut-off, as a kernel stuck in C would;
    - ``pause``: once per key and ``scope`` (the first worker of a case to get there), write this
      process's pid to :func:`marker` and wait to be killed; later attempts pass;
    - ``die``: the worker process kills itself (SIGKILL), every time.
    """
    if INJECT_VAR not in os.environ:
        return
    spec = injection()
    action = spec["keys"].get(key) if spec else None
    if action is None or (action in ("pause", "die") and not in_worker):
        return
    if action == "hang_hard" and not in_worker:
        action = "hang"  # the client cannot be ended: there it hangs as a cut-off can stop
    end = time.monotonic() + INJECT_MAX_S
    if action == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        path = marker(spec, key, action, scope)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        while time.monotonic() < end:
            time.sleep(0.05)
    elif action == "hang":
        while time.monotonic() < end:
            time.sleep(0.05)
    elif action == "hang_hard":
        while time.monotonic() < end:
            with suppress(TaskTimeout):
                time.sleep(0.05)
    if action != "pause":
        raise RuntimeError(f"injected {action} on {key!r} was not cut off within {INJECT_MAX_S:g} s")


def note_injection(manifest: dict, log: Callable[[str], None]) -> None:
    """Say loudly in the log and the manifest that this run injects faults (tests only)."""
    spec = injection()
    if spec is None:
        return
    manifest["fault_injection"] = spec
    log(f"WARNING: {INJECT_VAR} is set: this run injects faults for testing; its timings mean nothing")
