"""What the runs of the in-process backends (thread, task) share: channels, worker status,
counters, the stop signal and the first error.

>>> import pypeln as pl
>>> from pypeln._runtime._thread_channel import ThreadChannel
>>> from pypeln._stats import RunStatistics
>>> stage = pl.thread.map(abs, [-1])
>>> run = LocalRun(stage.runtime, stage, 0, RunStatistics(), ThreadChannel)
>>> run.fail(KeyError("first")); run.fail(KeyError("second"))
>>> run.stop.is_set
True
>>> run.raise_error()
Traceback (most recent call last):
...
KeyError: 'first'
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, Generic, TypeVar

from .._hooks import ActiveWorkers
from .._plan import Node, compile_plan
from .._session import DeadlineFactory
from .._stage import Stage
from .._stats import Counters, RunStatistics
from ._batching import MAX_BATCH
from ._contract import Runtime
from ._stall import StallWatch
from ._thread_channel import StopSignal, ThreadChannel
from ._thread_deadline import ThreadDeadline

C = TypeVar("C", bound=ThreadChannel)


class LocalRun(Generic[C]):
    """One run whose workers live in this process; ``channel_type`` makes its channels."""

    def __init__(
        self,
        runtime: Runtime,
        stage: Stage[Any],
        maxsize: int,
        stats: RunStatistics,
        channel_type: type[C],
    ) -> None:
        self.plan = compile_plan(stage, runtime, maxsize)
        self.statistics = stats
        self.stop = StopSignal()
        self.deadline: DeadlineFactory | None = partial(ThreadDeadline, stop=self.stop)
        self.max_batch = MAX_BATCH
        self._channels = [
            channel_type(spec.maxsize, spec.producers, spec.readers, self.stop)
            for spec in self.plan.channels
        ]
        self.output = self._channels[self.plan.output]
        self._statuses = {id(node): ActiveWorkers(node.workers) for node in self.plan.nodes}
        self._threads: list[threading.Thread] = []
        self._stall: StallWatch | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def status(self, node: Node) -> ActiveWorkers:
        return self._statuses[id(node)]

    def counters(self, node: Node, index: int) -> Counters:
        return self.statistics.worker(node.name)

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop everything (from any thread)."""
        with self._lock:
            if self._error is None:
                self._error = error
        self.stop.set()

    def raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
