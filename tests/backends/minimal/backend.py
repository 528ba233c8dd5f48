"""A backend written against the contract alone, in the tests: proof that it is enough.

Every worker is a thread; its channel is its own (a deque under one condition), not the
library's ``ThreadChannel``. It reserves no room for batches to come, so producers hand on
one item at a time under a bound: simple, and within the contract. From the library it
takes only what any backend may: the plan, the worker loop, the consumer's loop, the
deadline for timeouts, the first-error holder and the stall report's helpers.
``tests/conftest.py`` registers it, and the contract, fault and property suites run on it
as on every other backend.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from pypeln._backends.common.batching import lent_part
from pypeln._backends.common.consumer import consume, join_threads
from pypeln._backends.common.deadline import ThreadDeadline
from pypeln._backends.common.first_error import FirstError
from pypeln._backends.common.stall import describe_frames, run_report, thread_frames
from pypeln._backends.common.stop_signal import StopSignal
from pypeln._backends.common.worker_loop import run_worker
from pypeln._backends.contract import (
    NOTHING_YET,
    Backend,
    ChannelReader,
    ChannelStatistics,
    ChannelWriter,
    Run,
    WorkerContext,
)
from pypeln._errors import Stopped
from pypeln._pipeline.plan import Node, compile_plan
from pypeln._pipeline.stage import Stage
from pypeln._worker.activity import WorkerActivity
from pypeln._worker.counters import Counters, RunStatistics
from pypeln._worker.hooks import ActiveWorkers
from pypeln._worker.kernels import Element
from pypeln._worker.policies.rate import Limiter, Schedule


class MinimalBackend(Backend):
    """Threads and a channel of its own."""

    name = "minimal"

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(MinimalRun, self, stage, maxsize, stats))


class MinimalChannel(ChannelReader, ChannelWriter):
    """Both ends in one object: a FIFO of at most ``maxsize`` items, counting what readers
    hold until they ask again (``lent_part``)."""

    def __init__(self, maxsize: int, producers: int, readers: int, stop: StopSignal) -> None:
        self.maxsize = maxsize
        self.producers = producers
        self._readers = readers
        self._open = producers
        self._items: deque[Element] = deque()
        self._lent = 0
        self._taken = 0
        self._waiting_readers = 0
        self._waiting_producers = 0
        self._shared: list[deque[Element]] = []  # producers' pending batches (share)
        self._changed = threading.Condition()
        self._stop = stop
        stop.register(self._changed)

    @property
    def hungry(self) -> int:
        return self._waiting_readers

    def put_from(self, pending: deque[Any], reserve: int = 0) -> int:
        with self._changed:
            while pending:
                if self._room() > 0:
                    self._items.append(pending.popleft())
                    self._changed.notify_all()
                    continue
                self._wait(producer=True)
        return self.reserve(pending, reserve)

    def reserve(self, pending: deque[Any], want: int) -> int:
        return 0 if self.maxsize else want  # no room held ahead: one item at a time

    def release(self, pending: deque[Any]) -> None:
        pass  # nothing reserved, nothing to give back

    def share(self, pending: deque[Any]) -> None:
        with self._changed:
            self._shared.append(pending)

    def unshare(self, pending: deque[Any]) -> None:
        with self._changed:  # by identity: two empty deques are equal
            self._shared = [shared for shared in self._shared if shared is not pending]

    def get_batch(
        self,
        limit: int,
        returned: int = 0,
        before_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        if before_wait is not None:
            before_wait()
        until = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            self._give_back(returned)
            while not self._items and not self._take_shared():
                if self._open == 0:
                    return []
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    return NOTHING_YET
                self._wait(producer=False, timeout=left)
            fair = -(-len(self._items) // self._readers)
            batch = [self._items.popleft() for _ in range(min(limit, fair))]
            self._taken += len(batch)
            lent = lent_part(self.maxsize, self._readers, len(batch)) if self.maxsize else 0
            self._lent += lent
            if lent < len(batch):
                self._changed.notify_all()
            return batch

    def give_back(self, returned: int) -> None:
        with self._changed:
            self._give_back(returned)

    def close(self) -> None:
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def statistics(self) -> ChannelStatistics:
        fill = len(self._items) + self._lent
        return ChannelStatistics(
            self.maxsize, fill, self._taken, self._waiting_readers, self._waiting_producers
        )

    def _room(self) -> int:
        return self.maxsize - len(self._items) - self._lent if self.maxsize else 1

    def _take_shared(self) -> bool:
        """Take what producers hold, as room allows: their workers may be busy a while."""
        for pending in self._shared:
            while pending and self._room() > 0:
                self._items.append(pending.popleft())  # the producer only appends meanwhile
        return bool(self._items)

    def _give_back(self, returned: int) -> None:
        lent = lent_part(self.maxsize, self._readers, returned) if self.maxsize else 0
        if lent:
            self._lent -= lent
            self._changed.notify_all()

    def _wait(self, producer: bool, timeout: float | None = None) -> None:
        """Wait for any change, or ``timeout`` seconds (called with the condition held);
        ``Stopped`` on stop."""
        if self._stop.is_set:
            raise Stopped
        if producer:
            self._waiting_producers += 1
        else:
            self._waiting_readers += 1
        try:
            self._changed.wait(timeout)
        finally:
            if producer:
                self._waiting_producers -= 1
            else:
                self._waiting_readers -= 1
        if self._stop.is_set:
            raise Stopped


class MinimalRun(Run, WorkerContext):
    """One run: a thread per worker, a ``MinimalChannel`` per channel of the plan."""

    def __init__(
        self, backend: MinimalBackend, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> None:
        self.plan = compile_plan(stage, backend, maxsize)
        self.statistics = stats
        self.stop = StopSignal()
        self.deadline = partial(ThreadDeadline, stop=self.stop)
        self.pause = self.stop.pause
        self._limiters: dict[int, Schedule] = {}  # asked for by each worker of a stage
        self.max_batch = 1024
        self._channels = [
            MinimalChannel(spec.maxsize, spec.producers, spec.readers, self.stop)
            for spec in self.plan.channels
        ]
        self._statuses = {id(node): ActiveWorkers(node.workers) for node in self.plan.nodes}
        self._threads: dict[tuple[int, int], threading.Thread] = {}
        self._activities: dict[tuple[int, int], WorkerActivity] = {}
        self._first_error = FirstError()

    # -- the Run, for the consumer -----------------------------------------------------------

    def start(self) -> None:
        for node in self.plan.nodes:
            for index in range(node.workers):
                thread = threading.Thread(target=run_worker, args=(node, index, self), daemon=True)
                self._threads[id(node), index] = thread
                thread.start()

    @property
    def output(self) -> MinimalChannel:
        return self._channels[self.plan.output]

    def channel_statistics(self) -> list[ChannelStatistics]:
        return [channel.statistics() for channel in self._channels]

    def stall_report(self, channels: Sequence[ChannelStatistics]) -> str:
        def state(node: Node, index: int) -> str | None:
            thread = self._threads.get((id(node), index))
            if thread is None or not thread.is_alive():
                return None
            activity = self._activities.get((id(node), index))
            holding = None if activity is None else activity.holding()
            return describe_frames(thread_frames(thread), holding)

        return run_report(self.plan.nodes, channels, state)

    def raise_error(self) -> None:
        self._first_error.raise_it()

    def close(self) -> None:
        self.stop.set()
        join_threads(list(self._threads.values()), grace=1.0)

    # -- the WorkerContext, for the workers ----------------------------------------------------

    def reader(self, channel: int) -> MinimalChannel:
        return self._channels[channel]

    def writer(self, channel: int) -> MinimalChannel:
        return self._channels[channel]

    def activity(self, node: Node, index: int) -> WorkerActivity:
        activity = self._activities[id(node), index] = WorkerActivity()
        return activity

    def status(self, node: Node) -> ActiveWorkers:
        return self._statuses[id(node)]

    def counters(self, node: Node, index: int) -> Counters:
        return self.statistics.worker(node.name, id(node))

    def limiter(self, node: Node) -> Limiter | None:
        stage = node.stage
        if stage is None or not stage.rate:
            return None
        return self._limiters.setdefault(id(node), Schedule(stage.rate, node.workers))

    def fail(self, error: BaseException) -> None:
        self._first_error.keep(error)
        self.stop.set()
