"""State the workers of a process run share: counters, active workers, the stage to run.

>>> counters = counters_array(2)
>>> counters[1].filtered_out += 3
>>> counters[1].filtered_out, counters[0].filtered_out
(3, 0)
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from ctypes import Structure, c_int64
from typing import Any

from ..._errors import SerializationError
from ..._pipeline.stage import Stage
from ..._worker.counters import COUNTERS, SAMPLES
from ..._worker.hooks import StageStatus
from ..._worker.policies.rate import NANOSECONDS, next_turn
from ..remote.pickling import dumps
from .channel import SharedInts
from .memory.arrays import shared_array
from .pipes import PipeMutex, Waiter


class SharedCounters(Structure):
    """One worker's ``Counters`` in shared memory: the consumer reads them live."""

    _fields_ = [
        *((name, c_int64) for name in COUNTERS),
        ("sampled", c_int64),
        ("samples", c_int64 * SAMPLES),
    ]
    timed_out: int
    filtered_out: int
    failed: int
    received: int
    emitted: int
    waiting_ns: int
    blocked_ns: int
    started_ns: int
    ended_ns: int
    sampled: int
    samples: Any


def counters_array(workers: int) -> Any:
    """Shared counters for ``workers`` workers (``close()`` it with the run)."""
    return shared_array(SharedCounters, workers)


class SharedActiveWorkers:
    """``WorkerStatus`` across processes: a count in shared memory, under a pipe mutex."""

    def __init__(self, flags: SharedInts, slot: int, workers: int, lock: PipeMutex) -> None:
        self._flags = flags
        self._slot = slot
        self._workers = workers
        self._lock = lock

    def finish(self) -> StageStatus:
        # Not woken by "stop": a stopping run still counts every worker, so that the last
        # one's on_done sees ``done``. The lock is held for two lines of code.
        self._lock.acquire(Waiter(None))
        try:
            self._flags[self._slot] -= 1
            active = int(self._flags[self._slot])
        finally:
            self._lock.release()
        return StageStatus(self._workers, active)

    def adopt(self) -> None:
        """Count a successor in before this worker finishes (see ``ReplacingDeadline``)."""
        self._lock.acquire(Waiter(None))
        try:
            self._flags[self._slot] += 1
        finally:
            self._lock.release()


class SharedSchedule:
    """``rate`` across processes: the stage's ``Schedule`` as one integer in shared memory
    (its ``empty_at``, on the clock all processes of the machine share), under a pipe
    mutex held for a few lines."""

    def __init__(
        self, flags: SharedInts, slot: int, lock: PipeMutex, rate: float, burst: int
    ) -> None:
        self._flags = flags
        self._slot = slot
        self._lock = lock
        self._interval = round(NANOSECONDS / rate)
        self._burst = max(1, burst)

    def wait(self) -> float:
        self._lock.acquire(Waiter(None))
        try:
            self._flags[self._slot], wait = next_turn(
                int(self._flags[self._slot]), time.monotonic_ns(), self._interval, self._burst
            )
        finally:
            self._lock.release()
        return wait / NANOSECONDS


class ShippedStage:
    """A stage on its way to a worker process: its function and hooks, without its graph.

    A fork child simply inherits it. For a worker started by the fork server or spawn it is
    pickled once per stage (main-module functions and classes by value: such a worker never
    runs the user's script) and loaded in the worker by ``load()``, where a failure can be
    reported as the stage's error.
    """

    def __init__(self, stage: Stage[Any]) -> None:
        # Without its graph and its backend, which workers never use: a worker started by
        # the fork server then loads the worker loop only, not the parent's side.
        self.stage = dataclasses.replace(stage, upstreams=(), backend=None)  # type: ignore[arg-type]
        self._payload: bytes | None = None

    def payload(self) -> bytes:
        if self._payload is None:
            try:
                self._payload = dumps(self.stage, main_by_value=True)
            except Exception as error:
                raise SerializationError(
                    f"stage {self.stage.name!r}: its function or hooks cannot be pickled to "
                    f"start a worker process: {type(error).__name__}: {error}"
                ) from error
        return self._payload

    def load(self) -> Stage[Any]:
        return self.stage

    def __reduce__(self) -> tuple[Any, ...]:
        return (ArrivedStage, (self.payload(),))


class ArrivedStage:
    """A ``ShippedStage`` in the worker process, loaded on demand."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def load(self) -> Stage[Any]:
        stage: Stage[Any] = pickle.loads(self._payload)
        return stage
