"""The blocking worker loop, shared by every runtime whose workers block (threads, processes).

Data flow of one stage worker::

    inbox.get_batch(n) ──► kernel(call, elements) ──► pending ──► outbox.put_from(pending)
         ▲   n adapts: 1 at first, then as many items as take ~1 ms      (each outbox: broadcast)
         └── before waiting for more input, whatever is pending is flushed downstream

Moving items in batches is what makes a hand-off cheap. Three rules keep batches from adding
latency: every batch size starts at 1; a worker flushes before it waits for input and as
soon as its reader waits (``hungry``); and a reader about to wait takes what its producers
hold (``Channel.share``), so an item is never stuck behind a slow next one.

Batches never stretch ``maxsize``, the user's bound on memory: in front of a bounded
channel's readers wait at most ``maxsize`` items, queued, in producers' pending batches or
in readers' batches, plus one per producer (the item it holds while waiting for room). A
producer reserves room for a batch before it makes it (``Channel.reserve``), and holds no
room it does not use while it waits for anything. A reader hands the room of its batch back
when it asks for the next one, which gives producers room in chunks, for batches again; under
a bound too small to leave each reader an item, a single item's room frees as it is taken, so
that ``maxsize=1`` still lets several workers run (``lent_part``).

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


def reader_batch(maxsize: int, readers: int) -> int:
    """Largest batch one reader takes: its share of the bound (without one, what waits).

    (Half a share, to leave producers room while a reader works, measured no faster: the
    hand-offs it adds cost as much as the overlap gains.)

    >>> reader_batch(0, 1), reader_batch(64, 1), reader_batch(64, 3), reader_batch(3, 4)
    (4096, 64, 22, 1)
    """
    return CONSUMER_BATCH if maxsize == 0 else batch_cap(maxsize, readers)


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


class _Output:
    """A worker's output: one pending batch per outbox, each handed on when flushed.

    The batch size adapts like the input's: one item at first, then as many as take about
    ``TARGET_BATCH_SECONDS`` to produce. A batch never holds an item back from an idle
    reader: a producer flushes at once when a reader waits (``hungry``), and a reader about
    to wait takes what its producers hold (``Channel.share``), so an item is not stuck behind
    a slow next one. With several outboxes (broadcast), every item goes to each one's batch;
    an outbox listed twice gets it twice.

    With a bounded outbox, a batch holds at most what its reserved room allows, plus one
    item (see the module docstring); ``release`` gives the room back when the worker is
    about to wait for input, ``resume`` reserves again.
    """

    def __init__(self, outboxes: list[Channel], max_batch: int = MAX_BATCH) -> None:
        distinct = list({id(outbox): outbox for outbox in outboxes}.values())
        self.outboxes = distinct
        self.pendings: list[deque[Element]] = [deque() for _ in distinct]
        pending_of = {id(outbox): p for outbox, p in zip(distinct, self.pendings, strict=True)}
        self._targets = [pending_of[id(outbox)] for outbox in outboxes]  # with repeats
        # By identity: two empty deques are equal.
        self._copies = [sum(t is p for t in self._targets) for p in self.pendings]
        self._credits = [0] * len(distinct)  # room reserved beyond each pending batch
        # Each producer may hold its share of the downstream bound, so memory stays bounded.
        bounds = [batch_cap(outbox.maxsize, outbox.producers) for outbox in distinct]
        self.sizer = BatchSizer(min([*bounds, max_batch]))
        self.bounded = any(outbox.maxsize for outbox in distinct)
        self._held = 0  # elements added since the last flush (bounded outboxes)
        self._limit = 1  # elements the batch may hold: what its reserved room allows, + 1

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

    def release(self) -> None:
        """Give back the room held for batches to come: the worker is about to wait."""
        for position, outbox in enumerate(self.outboxes):
            if self._credits[position]:
                outbox.release(self.pendings[position])
                self._credits[position] = 0
        self._limit = 1

    def resume(self) -> None:
        """Reserve room for the next batch (the worker has its next input)."""
        if self.bounded:
            self._limit = self._reserve(self.sizer.size)
        self.sizer.begin()  # waiting for input is no time spent making the batch

    def _hand_on(self, more: bool) -> None:
        count = max(map(len, self.pendings), default=0)  # readers may have taken some
        if count:
            self.sizer.end(count)
        if not self.bounded:
            if count:
                for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
                    if pending:
                        outbox.put_from(pending)
        elif len(self.outboxes) == 1:  # one lock: hand on, and reserve for the next batch
            pending, copies, size = self.pendings[0], self._copies[0], self.sizer.size
            want = copies * (size - 1) if more else 0
            if pending or want > self._credits[0]:
                self._credits[0] = self.outboxes[0].put_from(pending, want)
            self._limit = min(size, self._credits[0] // copies + 1)
        else:
            self.release()  # no spare room held while waiting for room in another outbox
            for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
                if pending:
                    outbox.put_from(pending)
            self._limit = self._reserve(self.sizer.size) if more else 1
        self._held = 0
        self.sizer.begin()

    def _reserve(self, size: int) -> int:
        """Reserve room for a batch of ``size`` elements; how many it may hold (at least 1)."""
        allowed = max(1, size)
        for position, outbox in enumerate(self.outboxes):
            if not outbox.maxsize:
                continue
            copies, credit = self._copies[position], self._credits[position]
            want = copies * max(0, size - 1)
            if want > credit:
                credit = outbox.reserve(self.pendings[position], want)
                self._credits[position] = credit
            allowed = min(allowed, credit // copies + 1)
        return allowed

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
