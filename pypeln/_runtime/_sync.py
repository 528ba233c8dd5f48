"""The ``sync`` runtime: every stage is a generator in the consumer's thread.

It is the reference semantics: no concurrency, exact input order, one worker per stage
whatever ``workers`` says, and no queues, so ``maxsize`` has nothing to bound. A ``timeout``
cannot interrupt a call here; a call that ran over it has its result discarded and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain
from time import perf_counter
from typing import Any

from .._errors import mark_stage
from .._hooks import ActiveWorkers
from .._kernels import KERNELS, SKIP, Element
from .._session import WorkerSession
from .._sources import elements_of, source_name
from .._stage import Stage
from .._stats import RunStatistics, WorkerCounters


class SyncRuntime:
    """Runs a graph as a chain of generators (see the module docstring)."""

    name = "sync"

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        hooked: list[Generator[Element, None, None]] = []
        top = self._run(stage, stats, hooked)
        return _closing(top, hooked) if hooked else top

    def _run(
        self, stage: Stage[Any], stats: RunStatistics, hooked: list[Generator[Element, None, None]]
    ) -> Iterator[Element]:
        inputs = self._inputs(stage, stats, hooked)
        if stage.kind == "from_iterable":
            return inputs
        counters = stats.worker(stage.name)
        session = WorkerSession(stage, None, ActiveWorkers(1), counters, ElapsedDeadline)
        if stage.on_start is None and stage.on_done is None:
            return iter(KERNELS[stage.kind](session.open(), inputs))  # no hook: nothing to wrap
        generator = self._with_hooks(session, inputs)
        hooked.append(generator)
        return generator

    def _with_hooks(
        self, session: WorkerSession, inputs: Iterator[Element]
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

    def _inputs(
        self, stage: Stage[Any], stats: RunStatistics, hooked: list[Generator[Element, None, None]]
    ) -> Iterator[Element]:
        streams = [self._input(upstream, stage, stats, hooked) for upstream in stage.upstreams]
        return streams[0] if len(streams) == 1 else chain.from_iterable(streams)

    def _input(
        self,
        upstream: Iterable[Any],
        stage: Stage[Any],
        stats: RunStatistics,
        hooked: list[Generator[Element, None, None]],
    ) -> Iterator[Element]:
        if isinstance(upstream, Stage) and upstream.runtime is self:
            return self._run(upstream, stats, hooked)
        name = stage.name if stage.kind == "from_iterable" else source_name(upstream)
        return elements_of(upstream, name, stats)


def _closing(
    top: Iterator[Element], hooked: list[Generator[Element, None, None]]
) -> Iterator[Element]:
    """Yield ``top``'s elements; at the end, close every stage that has hooks.

    After an error, the stages upstream of the failing one are suspended, and a traceback
    would keep them so until it is released; closing them now runs their ``on_done``.
    """
    try:
        yield from top
    finally:
        for generator in hooked:
            generator.close()


class ElapsedDeadline:
    """A ``timeout`` for a call that cannot be interrupted: a late result is dropped, counted."""

    def __init__(self, fn: Callable[..., Any], timeout: float, counters: WorkerCounters) -> None:
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
