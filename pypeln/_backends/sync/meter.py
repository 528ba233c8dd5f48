"""Statistics of a ``sync`` run, at no cost per item: the run is a chain of generators in the
consumer's thread, so a stage's time is read off that thread's stack instead of a clock.

While the run is consumed, a watch thread looks at the consumer's stack every
``SAMPLE_EVERY`` seconds (finding each stage by its generator's frame): the innermost stage
on it is working, the stages outside
it wait for its output (input, to them), the stages not on the stack wait for theirs to be
taken (they hand on); with no stage on it, the consumer's own code runs and every stage
waits for it; each stage's time at work over the items it took in a tenth of a second is one
duration of a call. Items in and out are counted by ``itertools.count`` riding along each stage's
output (and input, but for ``map`` and ``filter``, which take what they hand on and drop):
C code, no Python call per item.

>>> passed, items = tally(iter("abc"))
>>> list(items), counted(passed)
(['a', 'b', 'c'], 3)
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Generator, Iterator
from itertools import count
from operator import itemgetter
from types import FrameType
from typing import Any

from ..._worker.counters import RunStatistics, WorkerCounters, note_call
from ..._worker.flow import clock
from ..._worker.kernels import Element
from ..._worker.threads import wait_started

#: How often the watch reads the consumer's stack, seconds.
SAMPLE_EVERY = 0.005
#: How often (in samples) it copies the item counts and samples the statistics.
SAMPLES_PER_TICK = 20

#: The stages that hand on or drop each item they take, once: what they took is counted as
#: what they handed on and dropped (one count less per item).
ONE_TO_ONE = frozenset({"map", "filter"})


def tally(source: Iterator[Any]) -> tuple[count[int], Iterator[Any]]:
    """The items of ``source``, and a count of those that passed (read it with ``counted``).

    Only the count is kept: the stages' iterators must end with the run's (a feed learns
    that its run stopped when they are collected).
    """
    passed = count()
    # The source first: at its end, zip stops before it moves the count on.
    return passed, map(itemgetter(0), zip(source, passed))  # noqa: B905 (count is endless)


def counted(passed: count[int]) -> int:
    """How many items passed ``tally``'s count (read without moving it on)."""
    return int(repr(passed)[len("count(") : -1])  # "count(3)": C code, no lock


class SyncStage:
    """One stage's counters, the tallies of its input and output, and (weakly: the run's
    generators must end with it) the generator that runs its kernel, to find on a stack."""

    def __init__(
        self,
        counters: WorkerCounters,
        received: count[int] | None,
        emitted: count[int],
        kernel: Iterator[Element],
    ) -> None:
        self.counters = counters
        self.received = received  # None: one item out, or dropped, per item in
        self.emitted = emitted
        # ``concat`` and ``ordered`` hand their input on as it is: no frame of their own.
        self._kernel = weakref.ref(kernel) if isinstance(kernel, Generator) else None
        self.busy_ns = 0  # the time the watch saw it work
        self._noted = (0, 0)  # busy_ns and items taken at the last duration noted

    def frame(self) -> FrameType | None:
        """The frame of its kernel while it runs (None: done, or it has none)."""
        kernel = None if self._kernel is None else self._kernel()
        return None if kernel is None else kernel.gi_frame  # type: ignore[attr-defined]

    def copy_counts(self) -> None:
        counters = self.counters
        counters.emitted = emitted = counted(self.emitted)
        if self.received is None:
            dropped = counters.filtered_out + counters.timed_out + counters.failed
            counters.received = emitted + dropped
        else:
            counters.received = counted(self.received)

    def note_duration(self) -> None:
        """Note its time per item since the last note as one duration of a call (as a
        batch does on the other backends), once it took items meanwhile."""
        busy, taken = self._noted
        items = self.counters.received - taken
        if items > 0:
            note_call(self.counters, (self.busy_ns - busy) // items)
            self._noted = (self.busy_ns, self.counters.received)


class SyncMeter:
    """The statistics of one sync run: its stages, and the watch over its consumer."""

    def __init__(self, statistics: RunStatistics) -> None:
        self.statistics = statistics
        self.stages: list[SyncStage] = []
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()

    def add(self, stage: SyncStage) -> None:
        self.stages.append(stage)

    def metered(self, top: Iterator[Element]) -> Iterator[Element]:
        """``top``'s elements; the watch runs while they are read."""
        if not self.stages:
            yield from top
            return
        try:
            self._start(threading.get_ident())
            yield from top
        finally:
            self._stop()

    def copy_counts(self) -> None:
        for stage in self.stages:
            stage.copy_counts()

    def _start(self, consumer: int) -> None:
        self.statistics.refreshers.append(self.copy_counts)
        now = clock()
        for stage in self.stages:
            stage.counters.started_ns = now
        self.statistics.begin()
        thread = threading.Thread(
            target=self._watch, args=(consumer,), name="pypeln sync watch", daemon=True
        )
        self._thread = thread
        thread.start()

    def _stop(self) -> None:
        self._ended.set()
        if self._thread is not None and wait_started(self._thread):
            self._thread.join()
        now = clock()
        for stage in self.stages:
            stage.counters.ended_ns = now
        self.statistics.end()
        self._tick()

    def _watch(self, consumer: int) -> None:
        last, ticks = clock(), 0
        while not self._ended.wait(SAMPLE_EVERY):
            now = clock()
            frame = sys._current_frames().get(consumer)
            if frame is None:
                return
            self._attribute(frame, now - last)
            last, ticks = now, ticks + 1
            if ticks % SAMPLES_PER_TICK == 0:
                self._tick()

    def _tick(self) -> None:
        self.copy_counts()
        for stage in self.stages:
            stage.note_duration()
        self.statistics.sample()

    def _attribute(self, innermost: FrameType, spent: int) -> None:
        """Share ``spent`` out by the consumer's stack that ends in ``innermost``: the
        innermost stage on it works, the stages outside it wait for input, the others
        wait for room to hand on."""
        by_frame = {id(kernel): stage for stage in self.stages if (kernel := stage.frame())}
        on_stack: list[SyncStage] = []
        frame: FrameType | None = innermost
        while frame is not None:
            found = by_frame.get(id(frame))
            if found is not None:
                on_stack.append(found)
            frame = frame.f_back
        working = on_stack[0] if on_stack else None
        for stage in self.stages:
            if stage is working:  # its share: what is left of its life (``_insight/stats.py``)
                stage.busy_ns += spent
                continue
            if stage in on_stack:
                stage.counters.waiting_ns += spent
            else:
                stage.counters.blocked_ns += spent
