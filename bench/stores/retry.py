"""Retries with exponential backoff and full jitter, for transient storage errors.

``with_retries(fn, attempts, base_delay, on_retry)`` calls ``fn`` up to ``attempts`` times; between
tries it sleeps a random time in ``[0, min(max_delay, base_delay * 2**n)]`` (full jitter: clients that
failed together do not retry together). Only errors that ``transient`` accepts are retried; any other
error, and the last transient one, propagates unchanged. ``on_retry(attempt, exc, delay)`` is told of
each retry; every retry is also counted in :func:`count`, which the runner records per image
(``store_retries``).

:func:`transient_oserror` is the local filesystem's notion of transient (a busy or stale network
mount, an interrupted call); :func:`transient_http` is the object stores' (5xx, throttling, timeouts,
connection resets), for a client that does not retry on its own.
"""

from __future__ import annotations

import errno
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4
DEFAULT_BASE_DELAY_S = 0.1
DEFAULT_MAX_DELAY_S = 5.0

_TRANSIENT_ERRNOS = {
    errno.EAGAIN,
    errno.EBUSY,
    errno.EINTR,
    errno.EIO,
    errno.ESTALE,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}
_TRANSIENT_HTTP = {429, 500, 502, 503, 504}
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}


def transient_oserror(exc: BaseException) -> bool:
    """An OSError that may well succeed if tried again (not: missing file, no permission, no space)."""
    return isinstance(exc, (TimeoutError, ConnectionError)) or (
        isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS
    )


def transient_http(exc: BaseException) -> bool:
    """A server-side or network failure of an HTTP storage request: 5xx, 429, timeouts, resets."""
    if transient_oserror(exc):
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(response.get("Error", {}).get("Code", ""))
        return status in _TRANSIENT_HTTP or code in _TRANSIENT_CODES or code in map(str, _TRANSIENT_HTTP)
    name = type(exc).__name__  # botocore's connection-level errors, without importing botocore
    return name in {
        "ConnectionClosedError",
        "EndpointConnectionError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ResponseStreamingError",
        "IncompleteReadError",
    }


_COUNT = [0]
_COUNT_LOCK = threading.Lock()


def note(retries: int = 1) -> None:
    """Count retries made in this process (by :func:`with_retries`, or by a client's own retry loop,
    e.g. botocore's ``ResponseMetadata.RetryAttempts``): the runner records them per image."""
    if retries:
        with _COUNT_LOCK:
            _COUNT[0] += retries


def count() -> int:
    """Retries counted in this process so far."""
    return _COUNT[0]


def backoff(attempt: int, base_delay: float, max_delay: float, rng: random.Random | None = None) -> float:
    """Full-jitter delay before retry ``attempt`` (1-based)."""
    cap = min(max_delay, base_delay * 2 ** (attempt - 1))
    return (rng or random).uniform(0, cap)


def with_retries(
    fn: Callable[[], T],
    attempts: int = DEFAULT_ATTEMPTS,
    base_delay: float = DEFAULT_BASE_DELAY_S,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    *,
    transient: Callable[[BaseException], bool] = transient_oserror,
    max_delay: float = DEFAULT_MAX_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``, tried up to ``attempts`` times while it fails transiently."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not transient(exc):
                raise
            delay = backoff(attempt, base_delay, max_delay)
            note()
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")
