"""State the workers of a process run share: counters, active workers, the stage to run.

>>> import multiprocessing
>>> counters = counters_array(2, multiprocessing.get_context("spawn"))
>>> counters[1].filtered_out += 3
>>> counters[1].filtered_out, counters[0].filtered_out
(3, 0)
"""

from __future__ import annotations

import dataclasses
from ctypes import Structure, c_int64
from typing import Any

import cloudpickle

from .._errors import SerializationError
from .._hooks import StageStatus
from .._stage import Stage
from ._pipes import PipeMutex, Waiter
from ._process_channel import SharedInts


class SharedCounters(Structure):
    """One worker's ``Counters`` in shared memory: the consumer reads them live."""

    _fields_ = [("timed_out", c_int64), ("filtered_out", c_int64)]
    timed_out: int
    filtered_out: int


def counters_array(workers: int, context: Any) -> Any:
    """Shared counters for ``workers`` workers, visible to children started by ``context``."""
    return context.RawArray(SharedCounters, max(1, workers))


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


class ShippedStage:
    """A stage on its way to a worker process: its function and hooks, without its graph.

    Under spawn and forkserver it is pickled with cloudpickle once per worker, while the
    worker process is being started (so multiprocessing locks and events in closures
    travel too). Under fork the child simply inherits it.
    """

    def __init__(self, stage: Stage[Any]) -> None:
        self.stage = dataclasses.replace(stage, upstreams=())

    def __reduce__(self) -> tuple[Any, ...]:
        try:
            payload = cloudpickle.dumps(self.stage)
        except Exception as error:
            raise SerializationError(
                f"stage {self.stage.name!r}: its function or hooks cannot be pickled to start "
                f"a worker process: {type(error).__name__}: {error}"
            ) from error
        return (_unship, (payload,))


def _unship(payload: bytes) -> ShippedStage:
    shipped: ShippedStage = ShippedStage.__new__(ShippedStage)
    shipped.stage = cloudpickle.loads(payload)
    return shipped
