"""The ``sync`` runtime: every stage is a generator in the consumer's thread.

It is the reference semantics: no concurrency, exact input order, one worker per stage
whatever ``workers`` says, and no queues, so ``maxsize`` has nothing to bound. A ``timeout``
cannot interrupt a call here; a call that ran over it has its result discarded and counted.

A stage read by several stages of one run (fan-out) runs once; its elements are shared with
``itertools.tee``, which keeps what one branch has read and another not yet. Under a sync
``concat``, which reads its sources one after the other, that is the whole stream: fan out
large or endless streams on a concurrent backend, whose bounded queues are shared instead.

>>> import pypeln as pl
>>> shared = pl.sync.map(lambda x: x * 10, iter([1, 2]))  # a one-shot source
>>> list(pl.sync.concat([shared, pl.sync.map(str, shared)]))
[10, 20, '10', '20']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain, tee
from time import perf_counter
from typing import Any

from .._errors import mark_stage
from .._hooks import ActiveWorkers
from .._kernels import KERNELS, SKIP, Element
from .._session import WorkerSession
from .._sources import elements_of, source_name
from .._stage import Stage, close_iterator
from .._stats import Counters, RunStatistics


class SyncRuntime:
    """Runs a graph as a chain of generators (see the module docstring)."""

    name = "sync"

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        run = _SyncRun(self, stage, stats)
        top = run.elements(stage, name=stage.name)
        return _closing(top, run.to_close) if run.to_close else top


class _SyncRun:
    """The generators of one run, built from the graph at the first ``iter()``."""

    def __init__(self, runtime: SyncRuntime, last: Stage[Any], stats: RunStatistics) -> None:
        self.runtime = runtime
        self.stats = stats
        self.readers = _count_readers(last, runtime)
        self.to_close: list[Iterator[Element]] = []  # what must end when the run ends
        self._copies: dict[int, list[Iterator[Element]]] = {}

    def elements(self, obj: Iterable[Any], name: str) -> Iterator[Element]:
        """The elements of ``obj`` for one reader (a tee copy when it has several)."""
        readers = self.readers[id(obj)]
        if readers <= 1:
            return self._build(obj, name)
        if id(obj) not in self._copies:
            self._copies[id(obj)] = list(tee(self._build(obj, name), readers))
        return self._copies[id(obj)].pop()

    def _build(self, obj: Iterable[Any], name: str) -> Iterator[Element]:
        if not isinstance(obj, Stage) or obj.runtime is not self.runtime:
            outside = elements_of(obj, name, self.stats)
            if isinstance(obj, Stage):
                self.to_close.append(outside)  # a stage of another backend: its own run
            return outside
        if obj.kind == "from_iterable":
            return self.elements(obj.upstreams[0], obj.name)
        streams = [self.elements(up, source_name(up, obj.name)) for up in obj.upstreams]
        inputs = streams[0] if len(streams) == 1 else chain.from_iterable(streams)
        counters = self.stats.worker(obj.name)
        session = WorkerSession(obj, None, ActiveWorkers(1), counters, ElapsedDeadline)
        if obj.on_start is None and obj.on_done is None:
            return iter(KERNELS[obj.kind](session.open(), inputs))  # no hook: nothing to wrap
        hooked = _with_hooks(session, inputs)
        self.to_close.append(hooked)
        return hooked


def _count_readers(last: Stage[Any], runtime: SyncRuntime) -> Counter[int]:
    """How many stages of the graph read each stage or iterable (the consumer reads ``last``)."""
    readers: Counter[int] = Counter({id(last): 1})
    pending: list[Iterable[Any]] = [last]
    while pending:
        obj = pending.pop()
        if isinstance(obj, Stage) and obj.runtime is runtime:
            for upstream in obj.upstreams:
                readers[id(upstream)] += 1
                if readers[id(upstream)] == 1:
                    pending.append(upstream)
    return readers


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


def _closing(top: Iterator[Element], to_close: list[Iterator[Element]]) -> Iterator[Element]:
    """Yield ``top``'s elements; at the end, close the stages with hooks and outside runs.

    After an error, the stages upstream of the failing one are suspended, and a traceback
    would keep them so until it is released; closing them now runs their ``on_done`` and
    ends the runs of other backends feeding this one.
    """
    try:
        yield from top
    finally:
        for iterator in reversed(to_close):  # downstream first
            close_iterator(iterator)


class ElapsedDeadline:
    """A ``timeout`` for a call that cannot be interrupted: a late result is dropped, counted."""

    def __init__(self, fn: Callable[..., Any], timeout: float, counters: Counters) -> None:
        self._fn = fn
        self._timeout = timeout
        self._counters = counters

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            result = self._fn(*args, **kwargs)
        except Exception:
            if perf_counter() - start <= self._timeout:
                raise
            result = SKIP  # a late failure is dropped with the late call, as on every backend
        if perf_counter() - start > self._timeout:
            self._counters.timed_out += 1
            return SKIP
        return result

    def close(self) -> None:
        """Nothing to release."""
