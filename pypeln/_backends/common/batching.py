"""How a worker's output is batched: sizes that grow to about a millisecond of work, and the
room a batch reserves in a bounded channel. Shared by the blocking worker loop
(``worker_loop.py``) and the task workers (``task/worker.py``), which differ only in how
they hand a batch on.

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

from collections import deque
from collections.abc import Generator
from time import perf_counter
from typing import Any

from ..._worker.counters import Counters
from ..._worker.kernels import Element

#: A batch is sized to take about this long to process, so hand-offs stay a small cost.
TARGET_BATCH_SECONDS = 0.001
#: Batch size when nothing else bounds it.
MAX_BATCH = 4096
#: The consumer takes up to this many items per hand-off.
CONSUMER_BATCH = 4096

#: A hand-off step: ``outbox.put_from(pending, reserve)`` (or its awaitable twin), whose
#: result (the room now reserved) is sent back into the steps.
PutStep = tuple[Any, deque[Element], int]


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


class OutputBatches:
    """A worker's output: one pending batch per outbox, each handed on when flushed.

    The batch size adapts like the input's: one item at first, then as many as take about
    ``TARGET_BATCH_SECONDS`` to produce. With several outboxes (broadcast), every item goes
    to each one's batch; an outbox listed twice gets it twice. With a bounded outbox, a batch
    holds at most what its reserved room allows, plus one item (see the module docstring);
    ``release`` gives the room back when the worker is about to wait for input, ``resume``
    reserves again.

    What to do with a batch is one implementation, ``_hand_on_steps``: the blocking loop
    runs its steps with ``put_from``, a task worker awaits ``aput_from``.
    """

    def __init__(
        self, outboxes: list[Any], max_batch: int = MAX_BATCH, counters: Counters | None = None
    ) -> None:
        #: A stage worker's counters: what it hands on, and how long handing on takes.
        self.counters = counters
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
        self._held = 0  # elements added since the last flush
        self._limit = 1 if self.bounded else self.sizer.size  # elements the batch may hold

    def __enter__(self) -> Any:
        for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
            outbox.share(pending)  # a reader about to wait may take what we hold
        self.sizer.begin()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
            outbox.unshare(pending)

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

    def _hand_on_steps(self, more: bool) -> Generator[PutStep, int, None]:
        """Hand on what is held, as ``put_from`` steps; with ``more``, reserve room for the
        next batch too."""
        held = max(map(len, self.pendings), default=0)  # readers may have taken some
        if self.counters is not None:
            self.counters.emitted += self._held
        self._held = 0
        if held:
            self.sizer.end(held)
        if not self.bounded:
            if held:
                for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
                    if pending:
                        yield outbox, pending, 0
            self._limit = self.sizer.size
        elif len(self.outboxes) == 1:  # one lock: hand on, and reserve for the next batch
            pending, copies, size = self.pendings[0], self._copies[0], self.sizer.size
            want = copies * (size - 1) if more else 0
            if pending or want > self._credits[0]:
                self._credits[0] = yield self.outboxes[0], pending, want
            self._limit = min(size, self._credits[0] // copies + 1)
        else:
            self.release()  # no spare room held while waiting for room in another outbox
            for outbox, pending in zip(self.outboxes, self.pendings, strict=True):
                if pending:
                    yield outbox, pending, 0
            self._limit = self._reserve(self.sizer.size) if more else 1
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


def lent_part(maxsize: int, readers: int, count: int) -> int:
    """How many of a reader's batch of ``count`` items keep their room until it asks again.

    All of them, but for an item taken alone under a bound too small to leave each of the
    ``readers`` one in hand and as many waiting: its room frees at once, so that
    ``maxsize=1`` does not make several workers take turns.

    >>> lent_part(64, 1, 8), lent_part(64, 1, 1), lent_part(1, 4, 1), lent_part(4, 4, 2)
    (8, 1, 0, 2)
    """
    if count == 1 and maxsize < 2 * readers:
        return 0
    return count
