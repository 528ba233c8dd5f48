"""The blocking worker loop, shared by every runtime whose workers block (threads, processes).

Data flow of one stage worker::

    inbox.get_batch(n) ──► kernel(call, elements) ──► out buffer ──► outbox.put_many(batch)
         ▲   n adapts: 1 at first, then as many items as take ~1 ms      (each outbox: broadcast)
         └── before waiting for more input, whatever is buffered is flushed downstream

Moving items in batches is what makes a hand-off cheap; starting every batch size at 1 and
flushing before each wait is what keeps the first item from waiting for a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from time import perf_counter
from typing import Any, Protocol

from .._errors import Stopped, mark_stage
from .._hooks import StageStatus
from .._kernels import KERNELS, Element
from .._plan import Node
from .._session import DeadlineFactory, WorkerSession
from .._sources import elements_of
from .._stats import RunStatistics

#: A batch is sized to take about this long to process, so hand-offs stay a small cost.
TARGET_BATCH_SECONDS = 0.001
#: Batch size when nothing else bounds it.
MAX_BATCH = 4096


class Channel(Protocol):
    """What the worker loop needs of a channel (see ``ThreadChannel``)."""

    maxsize: int

    def put_many(self, items: list[Any]) -> None: ...

    def get_batch(self, limit: int) -> list[Any]: ...

    def close(self) -> None: ...


class BatchSizer:
    """Grows a batch size from 1 towards what takes ``TARGET_BATCH_SECONDS``, at most ``cap``.

    >>> sizer = BatchSizer(cap=8)
    >>> sizer.size
    1
    >>> for _ in range(5):
    ...     sizer.begin(); sizer.end(sizer.size)
    >>> sizer.size
    8
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.size = 1
        self._started = 0.0

    def begin(self) -> None:
        self._started = perf_counter()

    def end(self, count: int) -> None:
        """``count`` items were processed since ``begin()``."""
        if count <= 0:
            return
        per_item = (perf_counter() - self._started) / count
        ideal = TARGET_BATCH_SECONDS / per_item if per_item > 0 else self.cap
        self.size = max(1, min(self.cap, self.size * 2, int(ideal)))


def batch_cap(maxsize: int, workers: int) -> int:
    """Largest batch one worker may hold: its share of the queue bound, so memory stays bounded."""
    return MAX_BATCH if maxsize == 0 else max(1, -(-maxsize // workers))


class WorkerContext(Protocol):
    """What one run gives its workers."""

    statistics: RunStatistics
    deadline: DeadlineFactory | None

    def channel(self, index: int) -> Channel: ...

    def status(self, node: Node) -> StageStatus: ...

    def fail(self, error: BaseException) -> None: ...


def run_worker(node: Node, index: int, context: WorkerContext) -> None:
    """Body of one worker of ``node``: never raises, reports its first error to the run."""
    outboxes = [context.channel(channel) for channel in node.outboxes]
    try:
        if node.stage is None:
            assert node.source is not None
            _pump(elements_of(node.source, node.name, context.statistics), outboxes)
        else:
            _work(node, index, context, outboxes)
        for outbox in outboxes:
            outbox.close()
    except Stopped:
        pass
    except BaseException as error:
        mark_stage(error, node.name, index if node.stage is not None else None)
        context.fail(error)


def _work(node: Node, index: int, context: WorkerContext, outboxes: list[Channel]) -> None:
    stage = node.stage
    assert stage is not None and node.inbox is not None
    counters = context.statistics.worker(node.name)
    session = WorkerSession(stage, index, context.status(node), counters, context.deadline)
    try:
        call = session.open()
        output = _Output(outboxes)
        inputs = _inputs(context.channel(node.inbox), node.workers, output)
        output.drain(KERNELS[stage.kind](call, inputs))
    except BaseException:
        session.close_quietly()
        raise
    session.close()


def _inputs(inbox: Channel, workers: int, output: _Output) -> Iterator[Element]:
    sizer = BatchSizer(batch_cap(inbox.maxsize, workers))
    while True:
        output.flush()  # downstream gets what we have before we wait for more
        batch = inbox.get_batch(sizer.size)
        if not batch:
            return
        sizer.begin()
        yield from batch
        sizer.end(len(batch))


def _pump(elements: Iterator[Element], outboxes: list[Channel]) -> None:
    """Move a source's elements downstream in batches that grow while the source is fast."""
    output = _Output(outboxes)
    sizer = BatchSizer(output.cap)
    while True:
        sizer.begin()
        output.buffer.extend(islice(elements, sizer.size))
        if not output.buffer:
            return
        sizer.end(len(output.buffer))
        output.flush()


class _Output:
    """A worker's output buffer; every flush goes to each outbox (broadcast)."""

    def __init__(self, outboxes: list[Channel]) -> None:
        self.outboxes = outboxes
        self.buffer: list[Element] = []
        bounds = [outbox.maxsize for outbox in outboxes if outbox.maxsize]
        self.cap = min(bounds) if bounds else MAX_BATCH

    def drain(self, elements: Iterable[Element]) -> None:
        """Buffer every element, flushing whenever a batch is full and at the end."""
        buffer, cap = self.buffer, self.cap
        for element in elements:
            buffer.append(element)
            if len(buffer) >= cap:
                self.flush()
        self.flush()

    def flush(self) -> None:
        if self.buffer:
            for outbox in self.outboxes:
                outbox.put_many(self.buffer)
            self.buffer.clear()
