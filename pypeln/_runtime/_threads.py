"""The ``thread`` runtime: every worker is a thread; stages talk through ``ThreadChannel``.

::

    consumer ◄── output channel ◄── stage n workers ◄── … ◄── stage 1 workers ◄── source thread
       │                                                                                │
       └── close()/break/error: StopSignal.set() wakes every wait, then workers are joined

The first error a worker reports is kept, the stop signal is set, and the consumer raises
that error. Worker threads are daemons, so a call stuck forever cannot block interpreter
exit; ``close()`` waits for workers at most ``JOIN_GRACE`` seconds.

>>> import threading
>>> import pypeln as pl
>>> before = threading.active_count()
>>> for item in pl.thread.map(str, range(10**6), workers=4, maxsize=8):
...     break  # stops the run: every worker thread is joined
>>> threading.active_count() == before
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

from .._kernels import Element
from .._stage import Stage
from .._stats import RunStatistics
from ._blocking import Channel, consume, join_threads, run_worker
from ._local_run import LocalRun
from ._stall import stall_after, watch_run
from ._thread_channel import ThreadChannel

#: How long ``close()`` waits for workers busy in user code before leaving them behind.
JOIN_GRACE = 1.0


class ThreadRuntime:
    """Runs a graph with one thread per worker (see the module docstring)."""

    name = "thread"

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(ThreadRun, self, stage, maxsize, stats))


class ThreadRun(LocalRun[ThreadChannel]):
    """One run of a plan: its channels, threads, first error and stop signal."""

    def __init__(
        self, runtime: ThreadRuntime, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> None:
        super().__init__(runtime, stage, maxsize, stats, ThreadChannel)
        self._workers: dict[tuple[int, int], threading.Thread] = {}

    def channel(self, index: int) -> Channel:
        return self._channels[index]

    def start(self) -> None:
        after = stall_after()  # a bad setting fails before any worker starts
        # Sources first: on a machine where a thread takes ~0.2 ms to start, a stage of 100
        # workers is fully up only after ~20 ms; workers started early already work meanwhile
        # (measured: 2,000 x 10 ms sleeps took 0.227 s this way, 0.242 s downstream-first).
        for node in self.plan.nodes:
            for index in range(node.workers):
                thread = threading.Thread(
                    target=run_worker,
                    args=(node, index, self),
                    name=f"pypeln {node.name} #{index}",
                    daemon=True,
                )
                self._threads.append(thread)
                self._workers[id(node), index] = thread
                thread.start()
        self._stall = watch_run(after, self.plan.nodes, self._channels, self._workers)

    def close(self) -> None:
        """Stop every worker and wait (a bounded time) for their threads to end."""
        self.stop.set()
        if self._stall is not None:
            self._stall.close()
        join_threads(self._threads, JOIN_GRACE)
