"""Per-run counters: what was dropped on purpose, so that nothing disappears unseen.

Each worker owns its counters (no lock on the hot path); readers add them up.

>>> stats = RunStatistics()
>>> stats.worker("map(f)").timed_out += 2
>>> stats.worker("map(f)").timed_out += 1
>>> stats.timed_out()
{'map(f)': 3}
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter_ns as clock
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from .._pipeline.stopping import StopRequest


#: What workers drop on purpose, in the order backends that report them use.
DROPS: Final = ("timed_out", "filtered_out", "failed")
#: How items flow through a worker: counted per batch, never per item. Times are
#: ``time.perf_counter_ns()`` readings (a clock every process of the machine shares).
FLOW: Final = ("received", "emitted", "waiting_ns", "blocked_ns", "started_ns", "ended_ns")
#: Every counter, in the order backends that copy counters between processes use.
COUNTERS: Final = DROPS + FLOW
#: How many durations of a call each worker keeps (the latest ones), for the percentiles.
SAMPLES: Final = 128


class Counters(Protocol):
    """What a worker counts: a ``WorkerCounters``, or the same fields in shared memory."""

    timed_out: int
    filtered_out: int
    failed: int  # items an error policy dropped (on_error="skip", or SKIP from its function)
    received: int  # items taken from its input
    emitted: int  # items handed on (once each, whatever the number of outboxes)
    waiting_ns: int  # time spent waiting for input
    blocked_ns: int  # time spent handing on: waiting for room in a full queue, mostly
    started_ns: int  # when it started (0: not yet)
    ended_ns: int  # when it ended (0: it runs)
    sampled: int  # durations of a call noted so far; the latest are in ``samples``
    samples: Any  # SAMPLES slots, written round: ``samples[sampled % SAMPLES]``


@dataclass
class WorkerCounters:
    """Counters one worker updates without locking."""

    timed_out: int = 0
    filtered_out: int = 0
    failed: int = 0
    received: int = 0
    emitted: int = 0
    waiting_ns: int = 0
    blocked_ns: int = 0
    started_ns: int = 0
    ended_ns: int = 0
    sampled: int = 0
    samples: list[int] = field(default_factory=lambda: [0] * SAMPLES)


def note_call(counters: Counters, nanoseconds: int) -> None:
    """Note one duration of a call (for a batch: its time over its items).

    >>> counters = WorkerCounters()
    >>> note_call(counters, 1500); counters.sampled, counters.samples[0]
    (1, 1500)
    """
    counters.samples[counters.sampled % SAMPLES] = nanoseconds
    counters.sampled += 1


@dataclass
class StageRecord:
    """One stage of a run, as its statistics know it: what it is, its workers' counters, and
    its input queue's fill at each sample the run's watch took."""

    name: str
    backend: str
    workers: int
    maxsize: int  # its input queue's bound (0: none)
    kind: str = ""  # map, filter, ...
    total: int | None = None  # the items it will hand on, where the source's length says
    #: Its backend runs several calls at once, through queues (not ``sync``'s generators).
    concurrent: bool = True
    counters: list[Counters] = field(default_factory=list)
    fills: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY))
    #: The watch's samples: ``(clock, items handed on by then)``, for rates over time.
    emitted: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=HISTORY))


#: How many samples of each stage the statistics keep (the latest ones).
HISTORY: Final = 3600


class RunStatistics:
    """The counters of every worker of one run, grouped by stage.

    A backend that runs stages registers each (``register``) before its workers ask for
    counters (``worker``, ``add``) with the same key; a stage of a run of another backend
    that this run reads registers with these statistics too, so they cover the pipeline.
    """

    def __init__(self) -> None:
        self._workers: list[tuple[str, Counters]] = []
        #: How another thread stops the run (``RunIterator.close()``); None where nothing can
        #: (a stage iterated directly). Every run of the pipeline attaches its stop to it.
        self.stop: StopRequest | None = None
        self.stages: dict[object, StageRecord] = {}
        #: Each run's way to read its channels' fill, and which channel is which stage's input.
        self._queues: list[tuple[Callable[[], Sequence[Any]], list[tuple[StageRecord, int]]]] = []
        self._sampling = threading.Lock()  # a run's channels are not read once it unwatched
        #: Called before a snapshot: backends whose counts live elsewhere copy them in.
        self.refreshers: list[Callable[[], None]] = []
        #: Called after each sample (progress bars).
        self.listeners: list[Callable[[], None]] = []
        #: How the run is shown as it goes: progress bars (False, True: on standard error,
        #: or a stream), a live page (a port; None: none) and its address once served.
        self.progress: Any = False
        self.monitor: int | None = None
        self.monitor_url: str | None = None
        self.begun_ns = 0  # when the first run began (0: not yet)
        self.ended_ns = 0  # when the last run ended (0: it runs)

    def register(self, key: object, record: StageRecord, inbox: int | None = None) -> None:
        """Know stage ``record`` by ``key``; ``inbox``: its input channel in the run whose
        channels ``watch_queues`` gives next."""
        self.stages.setdefault(key, record)
        if inbox is not None and self._queues:
            self._queues[-1][1].append((self.stages[key], inbox))

    def watch_queues(self, channels: Callable[[], Sequence[Any]]) -> object:
        """A run begins whose channels' statistics ``channels()`` reads (``fill`` each);
        ``unwatch`` the returned handle once it ended."""
        queues: tuple[Callable[[], Sequence[Any]], list[tuple[StageRecord, int]]] = (channels, [])
        self._queues.append(queues)
        return queues

    def unwatch(self, handle: object) -> None:
        """The run ends: its channels are read no more (nor is the run kept alive). Called
        before the run closes them: a sample in another run's watch (a pipeline of several
        backends shares its statistics) may be reading them now, and is waited for."""
        with self._sampling:
            self._queues = [queues for queues in self._queues if queues is not handle]

    def begin(self) -> None:
        if not self.begun_ns:
            self.begun_ns = clock()
        self.ended_ns = 0

    def end(self) -> None:
        self.ended_ns = clock()

    def sample(self) -> None:
        """Note every stage's input fill and output count now (the run's watch calls it)."""
        now = clock()
        with self._sampling:
            for channels, inboxes in self._queues:
                fills = channels()
                for record, inbox in inboxes:
                    record.fills.append(fills[inbox].fill)
        for record in list(self.stages.values()):
            record.emitted.append((now, sum(c.emitted for c in list(record.counters))))
        for listener in list(self.listeners):
            listener()

    def worker(self, stage: str, key: object | None = None) -> WorkerCounters:
        """New counters for one worker of ``stage`` (list.append is atomic across threads)."""
        counters = WorkerCounters()
        self.add(stage, counters, key)
        return counters

    def add(self, stage: str, counters: Counters, key: object | None = None) -> None:
        """Count ``counters`` (kept by a worker elsewhere, e.g. in shared memory) too."""
        self._workers.append((stage, counters))
        record = self.stages.get(key)
        if record is not None:
            record.counters.append(counters)

    def timed_out(self) -> dict[str, int]:
        """Elements skipped because their call ran over ``timeout``, per stage that had any."""
        return self._totals("timed_out")

    def filtered_out(self) -> dict[str, int]:
        """Elements a ``filter`` dropped, per stage that dropped any."""
        return self._totals("filtered_out")

    def failed(self) -> dict[str, int]:
        """Elements an error policy dropped, per stage that dropped any."""
        return self._totals("failed")

    def _totals(self, counter: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for stage, counters in list(self._workers):
            count: int = getattr(counters, counter)
            if count:
                totals[stage] = totals.get(stage, 0) + count
        return totals
