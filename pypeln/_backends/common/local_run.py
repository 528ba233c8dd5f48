"""What the runs of the in-process backends (thread, task) share: channels, worker status,
counters, the stop signal and the first error.

>>> import pypeln as pl
>>> from pypeln._backends.thread.backend import ThreadRun
>>> from pypeln._worker.counters import RunStatistics
>>> stage = pl.thread.map(abs, [-1])
>>> run = ThreadRun(stage.backend, stage, 0, RunStatistics())
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
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..._pipeline.plan import Node, compile_plan
from ..._pipeline.stage import Stage
from ..._worker.activity import WorkerActivity
from ..._worker.counters import Counters, RunStatistics
from ..._worker.hooks import ActiveWorkers
from ..._worker.policies.guards import Pause
from ..._worker.policies.rate import Limiter, Schedule
from ..._worker.session import DeadlineFactory
from ..contract import Backend, ChannelStatistics, Run, WorkerContext
from .batching import MAX_BATCH
from .deadline import ThreadDeadline
from .first_error import FirstError
from .stall import coroutine_frames, describe_frames, run_report, thread_frames
from .stop_signal import StopSignal
from .thread_channel import ThreadChannel

if TYPE_CHECKING:
    import asyncio

C = TypeVar("C", bound=ThreadChannel)


class LocalRun(Run, WorkerContext, Generic[C]):
    """One run whose workers live in this process; ``channel_type`` makes its channels.

    It is the ``WorkerContext`` of its workers too; a subclass starts and stops them.
    """

    def __init__(
        self,
        backend: Backend,
        stage: Stage[Any],
        maxsize: int,
        stats: RunStatistics,
        channel_type: type[C],
    ) -> None:
        self.plan = compile_plan(stage, backend, maxsize)
        self.statistics = stats
        self.stop = StopSignal()
        self.deadline: DeadlineFactory | None = partial(ThreadDeadline, stop=self.stop)
        self.pause: Pause | None = self.stop.pause
        self.max_batch = MAX_BATCH
        self._channels = [
            channel_type(spec.maxsize, spec.producers, spec.readers, self.stop)
            for spec in self.plan.channels
        ]
        self._statuses = {id(node): ActiveWorkers(node.workers) for node in self.plan.nodes}
        self._limiters = {
            id(node): Schedule(node.stage.rate, node.workers)
            for node in self.plan.nodes
            if node.stage is not None and node.stage.rate
        }
        self._activities: dict[tuple[int, int], WorkerActivity] = {}
        self._same: dict[int, int] = {}  # see same_node
        self._threads: list[threading.Thread] = []
        #: Each worker's thread or asyncio task, by ``(id(node), index)`` (for stall reports).
        self._workers: dict[tuple[int, int], threading.Thread | asyncio.Task[Any]] = {}
        self._first_error = FirstError()

    @property
    def output(self) -> C:
        return self._channels[self.plan.output]

    def channel_statistics(self) -> list[ChannelStatistics]:
        return [channel.statistics() for channel in self._channels]

    def reader(self, channel: int) -> C:
        return self._channels[channel]

    def writer(self, channel: int) -> C:
        return self._channels[channel]

    def activity(self, node: Node, index: int) -> WorkerActivity:
        activity = self._activities[self._same.get(id(node), id(node)), index] = WorkerActivity()
        return activity

    def same_node(self, copy: Node, node: Node) -> None:
        """``copy`` (a node changed for its workers) is ``node`` for statuses, rates and
        reports."""
        self._same[id(copy)] = id(node)
        self._statuses[id(copy)] = self._statuses[id(node)]

    def stall_report(self, channels: Sequence[ChannelStatistics]) -> str:
        return run_report(self.plan.nodes, channels, self._worker_state)

    def _worker_state(self, node: Node, index: int) -> str | None:
        """What a worker is doing: its innermost stack lines (None once it finished)."""
        worker = self._workers.get((id(node), index))
        activity = self._activities.get((id(node), index))
        holding = None if activity is None else activity.holding()
        if isinstance(worker, threading.Thread):
            return describe_frames(thread_frames(worker), holding) if worker.is_alive() else None
        if worker is None or worker.done():
            return None
        return describe_frames(coroutine_frames(worker.get_coro()), holding)

    def start_thread(self, target: Callable[..., None], node: Node, index: int, *args: Any) -> None:
        """Start worker ``index`` of ``node`` as a thread running ``target(node, index,
        *args)``, named after it, and known to the stall report and to ``close``."""
        name = f"pypeln {node.name} #{index}"
        thread = threading.Thread(target=target, args=(node, index, *args), name=name, daemon=True)
        self._threads.append(thread)
        self._workers[id(node), index] = thread
        thread.start()

    def status(self, node: Node) -> ActiveWorkers:
        return self._statuses[id(node)]

    def counters(self, node: Node, index: int) -> Counters:
        return self.statistics.worker(node.name, self._same.get(id(node), id(node)))

    def limiter(self, node: Node) -> Limiter | None:
        return self._limiters.get(self._same.get(id(node), id(node)))

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop everything (from any thread)."""
        self._first_error.keep(error)
        self.stop.set()

    def raise_error(self) -> None:
        self._first_error.raise_it()
