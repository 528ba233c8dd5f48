"""``SyncBackend``: a chain of generators in the consumer's thread (see the package docstring).

>>> import pypeln as pl
>>> shared = pl.sync.map(lambda x: x * 10, iter([1, 2]))  # a one-shot source
>>> list(pl.sync.concat([shared, pl.sync.map(str, shared)]))
[10, 20, '10', '20']
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import partial
from itertools import chain, count, islice, tee
from typing import Any

from ..._errors import mark_stage
from ..._pipeline.plan import expected_out, in_source_order, router_label
from ..._pipeline.relay import Relay, reads_of, shared_reads, with_relays
from ..._pipeline.sources import elements_of, source_name
from ..._pipeline.stage import Stage, close_iterator
from ..._worker.counters import RunStatistics, StageRecord
from ..._worker.hooks import ActiveWorkers
from ..._worker.kernels import KERNELS, Element, Take, batch_elements
from ..._worker.policies.keys import destination_of
from ..._worker.policies.rate import Schedule
from ..._worker.session import WorkerSession
from ..common.deadline import ThreadDeadline
from ..common.stop_signal import StopSignal
from ..contract import Backend
from .meter import ONE_TO_ONE, SyncMeter, SyncStage, tally


class SyncBackend(Backend):
    """Runs a graph as a chain of generators (see the module docstring)."""

    name = "sync"
    concurrent_workers = False

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        run = _SyncRun(self, stage, stats)
        top = run.meter.metered(run.elements(stage, name=stage.name))
        if stats.stop is not None:  # another thread may stop the run: wake a timed call's wait
            stats.stop.attach(run.stop)
        return _closing(top, run) if run.to_close or run.timed else top


class _SyncRun:
    """The generators of one run, built from the graph at the first ``iter()``."""

    def __init__(self, backend: SyncBackend, last: Stage[Any], stats: RunStatistics) -> None:
        self.backend = backend
        self.stats = stats
        self.meter = SyncMeter(stats)
        self.readers: Counter[int] = Counter({id(last): 1})
        foreign = _count_readers(last, backend, self.readers)
        # What a stage of another backend reads that this run computes: relayed to its run
        # (``relay.py``), which reads its copy from a thread of its own; so every copy of
        # such an object is read under one lock. What two such stages read, this run
        # computes for both.
        while adopted := shared_reads(foreign, set(self.readers)):
            for obj in adopted:
                self.readers[id(obj)] += 0  # read by relays only: counted below
                foreign.extend(_count_readers(obj, backend, self.readers))
                if isinstance(obj, Stage) and obj.backend is not backend:
                    foreign.append(obj)
        self.relays: dict[int, list[Iterable[Any]]] = {}
        owned = set(self.readers)
        for stage in foreign:
            reads = reads_of(stage, owned - {id(stage)})
            if reads:
                self.relays[id(stage)] = reads
                for obj in reads:
                    self.readers[id(obj)] += 1
        self._locks = {id(obj): threading.Lock() for reads in self.relays.values() for obj in reads}
        self.to_close: list[Iterator[Element]] = []  # what must end when the run ends
        self._copies: dict[int, list[Iterator[Element]]] = {}
        # Calls with a timeout wait for their helper thread; this wakes them when the run stops.
        self.signal = StopSignal()
        self.timed = False  # a stage has a timeout: its helper threads end with the run

    def stop(self, error: BaseException) -> None:
        """Stop the run from another thread: a wait for a timed call ends at once."""
        self.signal.set()

    def elements(self, obj: Iterable[Any], name: str) -> Iterator[Element]:
        """The elements of ``obj`` for one reader (a tee copy when it has several)."""
        readers = self.readers[id(obj)]
        if readers <= 1:
            return self._build(obj, name)
        if id(obj) not in self._copies:
            copies = tee(self._build(obj, name), readers)
            lock = self._locks.get(id(obj))
            self._copies[id(obj)] = [
                copy if lock is None else _locked(copy, lock) for copy in copies
            ]
        return self._copies[id(obj)].pop()

    def _build(self, obj: Iterable[Any], name: str) -> Iterator[Element]:
        if not isinstance(obj, Stage) or obj.backend is not self.backend:
            relayed = self.relays.get(id(obj))
            if relayed:  # a stage of another backend that reads what this run computes
                assert isinstance(obj, Stage)
                obj = with_relays(
                    obj,
                    {
                        id(read): Relay(
                            source_name(read, obj.name), partial(self.elements, read, obj.name)
                        )
                        for read in relayed
                    },
                )
            outside = elements_of(obj, name, self.stats)
            if isinstance(obj, Stage):
                self.to_close.append(outside)  # a stage of another backend: its own run
            return outside
        if obj.kind == "from_iterable":
            return self.elements(obj.upstreams[0], obj.name)
        streams = [self.elements(up, source_name(up, obj.name)) for up in obj.upstreams]
        inputs = streams[0] if len(streams) == 1 else chain.from_iterable(streams)
        if obj.key is not None:  # one worker takes every key, but a key that fails still fails
            inputs = _keyed(inputs, obj.key, router_label(obj))
        if obj.kind == "batch":  # the consumer's thread reads: a wait is checked per item
            return batch_elements(_one_at_a_time(inputs), obj.batch_size, obj.batch_wait)
        if obj.kind == "ordered" and in_source_order(obj, self.backend):
            return inputs  # one element at a time through a chain: in order already
        total = expected_out(obj)
        record = StageRecord(obj.name, self.backend.name, 1, 0, obj.kind, total, concurrent=False)
        self.stats.register(id(obj), record)
        counters = self.stats.worker(obj.name, id(obj))
        received: count[int] | None = None  # map, filter: what went out or was dropped
        if obj.kind not in ONE_TO_ONE:
            received, inputs = tally(inputs)
        self.timed = self.timed or bool(obj.timeout)
        deadline = partial(ThreadDeadline, stop=self.signal)
        limiter = Schedule(obj.rate, 1) if obj.rate else None
        session = WorkerSession(
            obj, None, ActiveWorkers(1), counters, deadline, self.signal.pause, limiter
        )
        if obj.on_start is None and obj.on_done is None:
            kernel = iter(KERNELS[obj.kind](session.open(), inputs))  # no hook: nothing to wrap
        else:
            kernel = _with_hooks(session, inputs)
            self.to_close.append(kernel)
        emitted, items = tally(kernel)
        self.meter.add(SyncStage(counters, received, emitted, kernel))
        return items


def _count_readers(
    top: Iterable[Any], backend: SyncBackend, readers: Counter[int]
) -> list[Stage[Any]]:
    """Count into ``readers`` how many stages of ``top``'s graph read each stage or iterable
    of it (what was counted before is not walked again); the stages of other backends it
    reads."""
    foreign: list[Stage[Any]] = []
    pending: list[Iterable[Any]] = [top]
    while pending:
        obj = pending.pop()
        if isinstance(obj, Stage) and obj.backend is backend:
            for upstream in obj.upstreams:
                readers[id(upstream)] += 1
                if readers[id(upstream)] == 1:
                    pending.append(upstream)
        elif isinstance(obj, Stage):
            foreign.append(obj)
    return foreign


def _locked(elements: Iterator[Element], lock: threading.Lock) -> Iterator[Element]:
    """``elements`` read under ``lock``: the copies of one ``tee`` are read by two threads
    (this run's, and a relay's in a run of another backend), never at once."""
    while True:
        with lock:
            element = next(elements, None)
        if element is None:
            return
        yield element


def _keyed(inputs: Iterator[Element], key: Callable[[Any], Any], label: str) -> Iterator[Element]:
    """``inputs``, each item's key checked as a router would (it raises, or cannot be
    hashed: the run fails, naming the router)."""
    destination = destination_of(key, 1, label)
    try:
        for element in inputs:
            destination(element)
            yield element
    except Exception as error:
        mark_stage(error, label, None)
        raise


def _one_at_a_time(inputs: Iterator[Element]) -> Take:
    """``take`` for ``batch_elements`` over an iterator: the next element, read in this
    thread; a wait that is over is reported before reading on."""

    def take(timeout: float | None, limit: int) -> list[Element] | None:
        if timeout == 0:
            return None
        return list(islice(inputs, 1))

    return take


def _with_hooks(
    session: WorkerSession, inputs: Iterator[Element]
) -> Generator[Element, None, None]:
    try:
        yield from KERNELS[session.stage.kind](session.open(), inputs)
        session.close()
    except GeneratorExit:  # the consumer stopped early: clean up, report nothing
        session.close_quietly()
        raise
    except BaseException as error:
        mark_stage(error, session.stage.name, None)
        session.close_quietly()
        raise


def _closing(top: Iterator[Element], run: _SyncRun) -> Iterator[Element]:
    """Yield ``top``'s elements; at the end, close the stages with hooks and outside runs.

    After an error, the stages upstream of the failing one are suspended, and a traceback
    would keep them so until it is released; closing them now runs their ``on_done`` and
    ends the runs of other backends feeding this one. Timeout helper threads end too.
    """
    try:
        yield from top
    finally:
        run.signal.set()
        for iterator in reversed(run.to_close):  # downstream first
            close_iterator(iterator)
