"""The consumer's side of a run: read its output, raise its first error, close it.

``consume`` drives any ``Run`` of the contract from the thread that iterates the last
stage, and watches it for stalls (see ``stall``); ``join_threads`` is how a run's
``close()`` waits for its threads, a bounded time.

>>> import pypeln as pl
>>> from pypeln._worker.counters import RunStatistics
>>> stage = pl.thread.map(abs, [-1, 2])
>>> sorted(value for _, value in stage.backend.iterate(stage, 0, RunStatistics()))
[1, 2]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from time import monotonic

from ..._errors import Stopped
from ..._insight.stats import snapshot
from ..._pipeline.plan import expected_out
from ..._worker.counters import StageRecord
from ..._worker.kernels import Element
from ..._worker.order import Reorder
from ..contract import ChannelStatistics, Run
from .batching import reader_batch
from .stall import StallWatch, stall_after, watch


def consume(open_run: Callable[[], Run]) -> Iterator[Element]:
    """The consumer's side of a run: its elements, then its first error; ``close()`` stops it.

    The run is opened at the first ``next()``: an iterator never started holds nothing.
    """
    run = open_run()
    if run.statistics.stop is not None:  # another thread may stop the run (RunIterator.close)
        run.statistics.stop.attach(run.fail)
    stall: StallWatch | None = None
    watched = register_stages(run)
    try:
        after = stall_after()  # a bad setting fails before any worker starts
        run.start()
        stall = watch_run(run, after)
        stall.start()
        output, reorder = run.output, in_order(run)
        limit, returned = reader_batch(output.maxsize, 1), 0
        while True:
            try:
                batch = output.get_batch(limit, returned)
            except Stopped:
                break
            if not batch:
                if reorder is not None:
                    yield from reorder.finish()
                break
            returned = len(batch)  # handed back once the caller took them all
            yield from batch if reorder is None else reorder.add_all(batch)
        run.raise_error()
    finally:
        if stall is not None:
            stall.close()
        run.statistics.unwatch(watched)  # before the run closes its channels
        run.close()
        run.statistics.end()


def register_stages(run: Run) -> object:
    """Tell the run's statistics its stages (before any worker asks for counters); the
    handle to ``unwatch`` its queues with once it ended."""
    statistics, plan = run.statistics, run.plan
    watched = statistics.watch_queues(run.channel_statistics)
    for node in plan.nodes:
        if node.stage is None or node.inbox is None:
            continue
        stage, maxsize = node.stage, plan.channels[node.inbox].maxsize
        total = expected_out(stage)
        record = StageRecord(
            node.name, stage.backend.name, node.workers, maxsize, stage.kind, total
        )
        statistics.register(id(node), record, node.inbox)
    statistics.begin()
    return watched


def watch_run(run: Run, after: float) -> StallWatch:
    """The run's watch: it samples the statistics, and warns of a stall after ``after``
    seconds (0: never), with where each worker is and the run's statistics."""

    def report(channels: Sequence[ChannelStatistics]) -> str:
        return f"{run.stall_report(channels)}\n\nstatistics:\n{snapshot(run.statistics)}"

    return watch(after, run.channel_statistics, report, run.statistics.sample)


def in_order(run: Run) -> Reorder | None:
    """What puts the run's output back in order, if the consumer does (``Plan.reorders``)."""
    return Reorder() if run.plan.reorders else None


def join_threads(threads: list[threading.Thread], grace: float) -> None:
    """Join every thread (but the caller's own) within ``grace`` seconds in all; forget them.

    A thread still busy in user code after that is left behind (threads cannot be killed).
    """
    deadline = monotonic() + grace
    current = threading.current_thread()
    for thread in threads:
        if thread is not current:
            thread.join(max(0.0, deadline - monotonic()))
    threads.clear()
