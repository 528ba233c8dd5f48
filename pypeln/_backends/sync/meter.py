"""Statistics of a ``sync`` run, at no cost per item: the run is a chain of generators in the
consumer's thread, so a stage's time is read off that thread's stack instead of a clock.

While the run is consumed, a watch thread looks at the consumer's stack every
``SAMPLE_EVERY`` seconds: the innermost stage kernel on it is working, the stages outside
it wait for its output (input, to them), the stages not on the stack wait for theirs to be
taken (they hand on); with no stage on it, the consumer's own code runs and every stage
waits for it. Items in and out are counted by ``itertools.count`` riding along each stage's
output (and input, but for ``map`` and ``filter``, which take what they hand on and drop):
C code, no Python call per item.

>>> passed, items = tally(iter("abc"))
>>> list(items), counted(passed)
(['a', 'b', 'c'], 3)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from itertools import count
from operator import itemgetter
from types import FrameType
from typing import Any

from ..._worker.counters import RunStatistics, WorkerCounters
from ..._worker.flow import clock
from ..._worker.kernels import KERNELS, Element

#: How often the watch reads the consumer's stack, seconds.
SAMPLE_EVERY = 0.005
#: How often (in samples) it copies the item counts and samples the statistics.
SAMPLES_PER_TICK = 20

#: The stages that hand on or drop each item they take, once: what they took is counted as
#: what they handed on and dropped (one count less per item).
ONE_TO_ONE = frozenset({"map", "filter"})

_KERNEL_CODES = frozenset(kernel.__code__ for kernel in KERNELS.values())


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
    """One stage's counters, and the tallies of its input and output."""

    def __init__(
        self, counters: WorkerCounters, received: count[int] | None, emitted: count[int]
    ) -> None:
        self.counters = counters
        self.received = received  # None: one item out, or dropped, per item in
        self.emitted = emitted

    def copy_counts(self) -> None:
        counters = self.counters
        counters.emitted = emitted = counted(self.emitted)
        if self.received is None:
            dropped = counters.filtered_out + counters.timed_out + counters.failed
            counters.received = emitted + dropped
        else:
            counters.received = counted(self.received)


class SyncMeter:
    """The statistics of one sync run: its stages, and the watch over its consumer."""

    def __init__(self, statistics: RunStatistics) -> None:
        self.statistics = statistics
        #: By the name its kernel's ``call`` carries (stages of one name share their time).
        self.stages: dict[str, list[SyncStage]] = {}
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()

    def add(self, name: str, stage: SyncStage) -> None:
        self.stages.setdefault(name, []).append(stage)

    def _each(self) -> list[SyncStage]:
        return [stage for stages in self.stages.values() for stage in stages]

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
        for stage in self._each():
            stage.copy_counts()

    def _start(self, consumer: int) -> None:
        self.statistics.refreshers.append(self.copy_counts)
        now = clock()
        for stage in self._each():
            stage.counters.started_ns = now
        self.statistics.begin()
        self._thread = threading.Thread(
            target=self._watch, args=(consumer,), name="pypeln sync watch", daemon=True
        )
        self._thread.start()

    def _stop(self) -> None:
        self._ended.set()
        thread = self._thread
        if (
            thread is not None
            and thread.ident is not None
            and thread is not threading.current_thread()
        ):
            thread.join()
        now = clock()
        for stage in self._each():
            stage.copy_counts()
            stage.counters.ended_ns = now
        self.statistics.end()
        self.statistics.sample()

    def _watch(self, consumer: int) -> None:
        last, ticks = clock(), 0
        while not self._ended.wait(SAMPLE_EVERY):
            now = clock()
            frame = sys._current_frames().get(consumer)
            if frame is None:
                return
            self._attribute(_stages_on(frame), now - last)
            last, ticks = now, ticks + 1
            if ticks % SAMPLES_PER_TICK == 0:
                for stage in self._each():
                    stage.copy_counts()
                self.statistics.sample()

    def _attribute(self, on_stack: list[str], spent: int) -> None:
        """``on_stack``: the stages on the consumer's stack, innermost first."""
        working = on_stack[0] if on_stack else None
        for name, stages in self.stages.items():
            if name == working:
                continue  # working: what is left of its life (``_insight/stats.py``)
            for stage in stages:
                if name in on_stack:
                    stage.counters.waiting_ns += spent
                else:
                    stage.counters.blocked_ns += spent


def _stages_on(frame: FrameType | None) -> list[str]:
    """The stages whose kernels are on the stack ending in ``frame``, innermost first."""
    names = []
    while frame is not None:
        if frame.f_code in _KERNEL_CODES:
            call = frame.f_locals.get("call")
            if call is not None:
                names.append(call.stage)
        frame = frame.f_back
    return names
