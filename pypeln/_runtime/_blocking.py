"""The blocking worker loop, shared by every runtime whose workers block (threads, processes).

Data flow of one stage worker::

    inbox.get_batch(n) ──► kernel(call, elements) ──► pending ──► outbox.put_from(pending)
         ▲   n adapts: 1 at first, then as many items as take ~1 ms      (each outbox: broadcast)
         └── before waiting for more input, whatever is pending is flushed downstream

How items are batched, and how batches keep within ``maxsize``: ``_batching``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from time import monotonic
from typing import Any, Protocol

from .._errors import Stopped, mark_stage
from .._hooks import WorkerStatus
from .._kernels import KERNELS, Element
from .._plan import Node
from .._session import DeadlineFactory, WorkerSession
from .._sources import elements_of
from .._stage import close_iterator
from .._stats import Counters, RunStatistics
from ._batching import BatchSizer, OutputBatches, reader_batch


class Channel(Protocol):
    """What the worker loop needs of a channel (see ``ThreadChannel``)."""

    maxsize: int
    producers: int  # how many workers feed it

    @property
    def hungry(self) -> int:
        """Readers waiting that no put has woken yet."""
        ...

    def put_from(self, pending: deque[Any], reserve: int = 0) -> int:
        """Move every item of ``pending`` into the channel, waiting for room as needed; then
        reserve room for items to come, as ``reserve()`` does."""
        ...

    def reserve(self, pending: deque[Any], want: int) -> int:
        """Reserve what room there is now for up to ``want`` items to join ``pending``
        (without waiting); return how many may join, room kept from before included."""
        ...

    def release(self, pending: deque[Any]) -> None:
        """Give back the room reserved for ``pending`` that its items do not use."""

    def share(self, pending: deque[Any]) -> None:
        """Let a reader about to wait take what a producer holds in ``pending``."""

    def unshare(self, pending: deque[Any]) -> None: ...

    def get_batch(
        self, limit: int, returned: int = 0, before_wait: Callable[[], None] | None = None
    ) -> list[Any]:
        """Up to ``limit`` items. ``returned``: the size of the reader's last batch, which it
        is done with (its room is held until then). ``before_wait`` is called before the
        reader may wait for items."""
        ...

    def give_back(self, returned: int) -> None:
        """A reader that leaves is done with its last batch, of ``returned`` items."""

    def close(self) -> None: ...


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

    statistics: RunStatistics

    def start(self) -> None: ...

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop the run (from any thread)."""

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
    if run.statistics.stop is not None:  # another thread may stop the run (RunIterator.close)
        run.statistics.stop.attach(run.fail)
    try:
        run.start()
        output = run.output
        limit, returned = reader_batch(output.maxsize, 1), 0
        while True:
            try:
                batch = output.get_batch(limit, returned)
            except Stopped:
                break
            if not batch:
                break
            returned = len(batch)  # handed back once the caller took them all
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
    sizer = BatchSizer(min(reader_batch(inbox.maxsize, workers), output.sizer.cap))
    returned = 0
    release = output.release if output.bounded else None  # the room we hold, if we wait
    try:
        while True:
            output.pause()  # downstream gets what we have before we may wait for more
            done, returned = returned, 0
            batch = inbox.get_batch(sizer.size, done, release)
            if not batch:
                return
            returned = len(batch)
            output.resume()
            sizer.begin()
            yield from batch
            sizer.end(len(batch))
    finally:  # leaving mid-batch (a process worker replaced after a timeout): room is free
        if returned:
            inbox.give_back(returned)


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


class _Output(OutputBatches):
    """The blocking loop's output: ``OutputBatches`` handed on with ``put_from``."""

    def __enter__(self) -> _Output:
        super().__enter__()
        return self

    def drain(self, elements: Iterable[Element]) -> None:
        """Batch every element; flush when the batch is full or a reader waits, and at the end."""
        if len(self._targets) == 1:
            append: Callable[[Element], None] = self._targets[0].append
            watch: Channel | _AnyOf = self.outboxes[0]
        else:
            append, watch = self._broadcast, _AnyOf(self.outboxes)
        if self.bounded:
            self._drain_bounded(elements, append, watch)
            return
        sizer, batched = self.sizer, 0
        size = sizer.size
        for element in elements:
            append(element)
            batched += 1
            if batched >= size or watch.hungry:
                self.flush()
                batched, size = 0, sizer.size
        self.flush()

    def _drain_bounded(
        self, elements: Iterable[Element], append: Callable[[Element], None], watch: Any
    ) -> None:
        # The count and limit live on self: the input's pause, release and resume change them.
        for element in elements:
            append(element)
            self._held += 1
            if self._held >= self._limit or watch.hungry:
                self.flush()
        self.pause()
        self.release()

    def flush(self) -> None:
        """Hand on what is held; reserve room for the next batch."""
        self._hand_on(more=True)

    def pause(self) -> None:
        """Hand on what is held: the worker asks for input next (the room it holds stays,
        unless it has to wait: ``release``)."""
        self._hand_on(more=False)

    def _hand_on(self, more: bool) -> None:
        steps = self._hand_on_steps(more)
        try:
            outbox, pending, reserve = next(steps)
            while True:
                outbox, pending, reserve = steps.send(outbox.put_from(pending, reserve))
        except StopIteration:
            pass

    def _broadcast(self, element: Element) -> None:
        for pending in self._targets:
            pending.append(element)


class _AnyOf:
    """Several outboxes (broadcast) seen as one: hungry when any reader waits."""

    def __init__(self, outboxes: list[Channel]) -> None:
        self._outboxes = outboxes

    @property
    def hungry(self) -> int:
        return sum(outbox.hungry for outbox in self._outboxes)
