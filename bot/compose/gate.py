"""The gate in front of a chat model: a timeout per call, a cap on calls in flight, a circuit breaker.

A hung endpoint must never hold a chat: every call runs on the gate's own threads and the caller
waits for it only until its deadline (the call's timeout or the question's budget, whichever comes
first); a call it gave up on keeps its slot until the client's own timeout ends it, so hung calls
can never pile up beyond `concurrency`. After `failures` failed or timed-out calls in a row the
breaker opens and the model is skipped for `cooldown` seconds; then one call tries it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

Outcome = Literal["ok", "failed", "timeout", "busy", "open"]
"""`busy`: no free slot before the deadline; `open`: the breaker is skipping the model."""


class Breaker:
    """Open after `failures` failures in a row; after `cooldown` seconds let one trial call through."""

    def __init__(
        self, *, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit, self._cooldown, self._clock = failures, cooldown, clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Whether a call may go to the model now."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial or self._clock() - self._opened_at < self._cooldown:
                return False
            self._trial = True  # half-open: this caller tries, the others keep skipping
            return True

    def cancel(self) -> None:
        """Give back a trial that `allow` granted but that never reached the model."""
        with self._lock:
            self._trial = False

    def succeeded(self) -> None:
        """Record a call that got an answer: close."""
        with self._lock:
            if self._opened_at is not None:
                logger.info("the model answered again; using it")
            self._failures, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        """Record a failed or timed-out call; open (again) at the limit."""
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self._limit:
                if self._opened_at is None or self._trial:
                    logger.warning(
                        "the model failed %d times in a row; skipping it for %gs",
                        self._failures,
                        self._cooldown,
                    )
                self._opened_at, self._trial = self._clock(), False

    @property
    def is_open(self) -> bool:
        """Whether calls are being skipped (a trial may still be let through)."""
        with self._lock:
            return self._opened_at is not None


@dataclass(frozen=True)
class Call(Generic[T]):
    """A started call: its future and the latest moment its caller waits for it."""

    future: Future[T]
    deadline: float


class ModelGate:
    """Run model calls with a timeout each, at most `concurrency` at once, behind a breaker."""

    def __init__(self, *, timeout: float, concurrency: int, breaker: Breaker) -> None:
        self.timeout = timeout
        self.breaker = breaker
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")

    def start(self, work: Callable[[], T], *, deadline: float) -> Call[T] | Outcome:
        """Start `work` on a free slot, waiting for one until `deadline`; or say why it did not start."""
        if not self.breaker.allow():
            return "open"
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            logger.warning("every model slot is busy; not waiting any longer")
            self.breaker.cancel()
            return "busy"

        def run() -> T:
            try:
                return work()
            finally:
                self._slots.release()

        try:
            future = self._pool.submit(run)
        except BaseException:
            self._slots.release()
            raise
        return Call(future, min(deadline, time.monotonic() + self.timeout))

    def finish(self, call: Call[T]) -> tuple[Outcome, T | None]:
        """Wait for a started call until its deadline; record the outcome with the breaker."""
        try:
            result = call.future.result(timeout=max(0.0, call.deadline - time.monotonic()))
        except FutureTimeout:
            logger.warning("the model did not answer in time")
            self.breaker.failed()
            return "timeout", None
        except Exception as error:  # any failure of the endpoint must not reach the user
            logger.warning("the model call failed (%s: %s)", type(error).__name__, error)
            self.breaker.failed()
            return "failed", None
        self.breaker.succeeded()
        return "ok", result

    def call(self, work: Callable[[], T], *, deadline: float) -> tuple[Outcome, T | None]:
        """Start `work` and wait for it (see `start` and `finish`)."""
        started = self.start(work, deadline=deadline)
        if isinstance(started, str):
            return started, None
        return self.finish(started)
