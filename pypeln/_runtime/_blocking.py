"""The blocking worker loop, shared by every runtime whose workers block (threads, processes).

Data flow of one stage worker::

    inbox.get_batch(n) ──► kernel(call, elements) ──► pending ──► outbox.put_from(pending)
         ▲   n adapts: 1 at first, then as many items as take ~1 ms      (each outbox: broadcast)
         └── before waiting for more input, whatever is pending is flushed downstream

Moving items in batches is what makes a hand-off cheap. Three rules keep batches from adding
latency: every batch size starts at 1; a worker flushes before it waits for input and as
soon as its reader waits (``hungry``); and a reader about to wait takes what its producers
hold (``Channel.share``), so an item is never stuck behind a slow next one.

>>> sizer = BatchSizer(cap=100)
>>> sizer.begin(); sizer.end(1)  # a fast item: the next batch may be twice as large
>>> sizer.size
2
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from time import monotonic, perf_counter
from typing import Any, Protocol

from .._errors import Stopped, mark_stage
from .._hooks import WorkerStatus
from .._kernels import KERNELS, Element
from .._plan import Node
from .._session import DeadlineFactory, WorkerSession
from .._sources import elements_of
from .._stage import close_iterator
from .._stats import Counters, RunStatistics

#: A batch is sized to take about this long to process, so hand-offs stay a small cost.
TARGET_BATCH_SECONDS = 0.001
#: Batch size when nothing else bounds it.
MAX_BATCH = 4096
#: The consumer takes up to this many items per hand-off.
CONSUMER_BATCH = 4096


class Channel(Protocol):
    """What the worker loop needs of a channel (see ``ThreadChannel``)."""

    maxsize: int
    producers: int  # how many workers feed it

    @property
    def hungry(self) -> int:
        """Readers waiting that no put has woken yet."""
        ...

    def put_from(self, pending: deque[Any]) -> None:
        """Move every item of ``pending`` into the channel, waiting for room as needed."""

    def share(self, pending: deque[Any]) -> None:
        """Let a reader about to wait take what a producer holds in ``pending``."""

    def unshare(self, pending: deque[Any]) -> None: ...

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
    #: The most items a worker may hold at once (1: a worker may vanish between items).
    max_batch: int

    def channel(self, index: int) -> Channel: ...

    def status(self, node: Node) -> WorkerStatus: ...

    def counters(self, node: Node, index: int) -> Counters:
        """Where worker ``index`` of ``node`` counts what it drops."""
        ...

    def fail(self, error: BaseException) -> None: ...


class Run(Protocol):
    """One run of a plan, as its consumer sees it."""

    def start(self) -> None: ...

    @property
    def output(self) -> Channel: ...

    def raise_error(self) -> None:
        """Raise the first error of the run, if any."""

    def close(self) -> None:
        """Stop every worker and release everything the run holds."""


def consume(open_run: Callable[[], Run]) -> Iterator[Element]:
    """The consumer's side of a run: its elements, then its first error; ``close()`` stops it.

    The run is opened at the first ``next()``: an iterator never started holds nothing.
    """
    run = open_run()
    try:
        run.start()
        while True:
            try:
                batch = run.output.get_batch(CONSUMER_BATCH)
            except Stopped:
                break
            if not batch:
                break
            yield from batch
        run.raise_error()
    finally:
        run.close()


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


def run_worker(node: Node, index: int, context: WorkerContext) -> None:
    """Body of one worker of ``node``: never raises, reports its first error to the run."""
    # One writer per channel, even for a channel listed twice (it gets every item twice).
    writers = {channel: context.channel(channel) for channel in dict.fromkeys(node.outboxes)}
    outboxes = [writers[channel] for channel in node.outboxes]
    try:
        if node.stage is None:
            assert node.source is not None
            # Unlabelled: the except clause below names this source on any error.
            elements = elements_of(node.source, node.name, context.statistics, labelled=False)
            _pump(elements, outboxes)
        else:
            _work(node, index, context, outboxes)
        for outbox in writers.values():
            outbox.close()
    except Stopped:
        pass
    except BaseException as error:
        mark_stage(error, node.name, index if node.stage is not None else None)
        context.fail(error)


def _work(node: Node, index: int, context: WorkerContext, outboxes: list[Channel]) -> None:
    stage = node.stage
    assert stage is not None and node.inbox is not None
    counters = context.counters(node, index)
    session = WorkerSession(stage, index, context.status(node), counters, context.deadline)
    try:
        call = session.open()
        with _Output(outboxes, context.max_batch) as output:
            inputs = _inputs(context.channel(node.inbox), node.workers, output)
            output.drain(KERNELS[stage.kind](call, inputs))
    except BaseException:
        session.close_quietly()
        raise
    session.close()


def _inputs(inbox: Channel, workers: int, output: _Output) -> Iterator[Element]:
    sizer = BatchSizer(min(batch_cap(inbox.maxsize, workers), output.sizer.cap))
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
    try:
        _pump_batches(elements, outboxes)
    finally:  # a stage of another backend ends its own run now, not when collected
        close_iterator(elements)


def _pump_batches(elements: Iterator[Element], outboxes: list[Channel]) -> None:
    # Item by item into the shared batch: a source that turns slow after a fast burst never
    # holds read items back from a waiting reader.
    with _Output(outboxes) as output:
        output.drain(elements)


class _Output:
    """A worker's output: one pending batch per outbox, each handed on when flushed.

    The batch size adapts like the input's: one item at first, then as many as take about
    ``TARGET_BATCH_SECONDS`` to produce. A batch never holds an item back from an idle
    reader: a producer flushes at once when a reader waits (``hungry``), and a reader about
    to wait takes what its producers hold (``Channel.share``), so an item is not stuck behind
    a slow next one. With several outboxes (broadcast), every item goes to each one's batch;
    an outbox listed twice gets it twice.
    """

    def __init__(self, outboxes: list[Channel], max_batch: int = MAX_BATCH) -> None:
        distinct = list({id(outbox): outbox for outbox in outboxes}.values())
        self.outboxes = distinct
        self.pendings: list[deque[Element]] = [deque() for _ in distinct]
        pending_of = {id(outbox): p for outbox, p in zip(distinct, self.pendings, strict=True)}
        self._targets = [pending_of[id(outbox)] for outbox in outboxes]  # with repeats
        # Each producer may hold its share of the downstream bound, so memory stays bounded.
        bounds = [batch_cap(outbox.maxsize, outbox.producers) for outbox in distinct]
        self.sizer = BatchSizer(min([*bounds, max_batch]))

    def __enter__(self) -> _Output:
        for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
            outbox.share(pending)
        self.sizer.begin()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
            outbox.unshare(pending)

    def drain(self, elements: Iterable[Element]) -> None:
        """Batch every element; flush when the batch is full or a reader waits, and at the end."""
        sizer, batched = self.sizer, 0
        if len(self._targets) == 1:
            append: Callable[[Element], None] = self._targets[0].append
            watch: Channel | _AnyOf = self.outboxes[0]
        else:
            append, watch = self._broadcast, _AnyOf(self.outboxes)
        size = sizer.size
        for element in elements:
            append(element)
            batched += 1
            if batched >= size or watch.hungry:
                self.flush()
                batched, size = 0, sizer.size
        self.flush()

    def flush(self) -> None:
        count = max(map(len, self.pendings), default=0)  # readers may have taken some
        if count:
            self.sizer.end(count)
            for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
                if pending:
                    outbox.put_from(pending)
        self.sizer.begin()

    def _broadcast(self, element: Element) -> None:
        for pending in self._targets:
            pending.append(element)


class _AnyOf:
    """Several outboxes (broadcast) seen as one: hungry when any reader waits."""

    def __init__(self, outboxes: list[Channel], max_batch: int = MAX_BATCH) -> None:
        self._outboxes = outboxes

    @property
    def hungry(self) -> int:
        return sum(outbox.hungry for outbox in self._outboxes)
