"""The public combinators, written once and bound to a runtime by each backend namespace.

``pl.thread.map`` is ``Api(ThreadRuntime()).map``: the same signature, checks and docstring
on every backend. Checks run here, eagerly, so bad input fails at the call that caused it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypedDict, TypeVar, overload

from typing_extensions import Unpack

from ._hooks import check_injections
from ._kernels import Index
from ._pipe import IndexedIteratorPipe, IteratorPipe, Pipe, RunPipe, SameTypePipe
from ._runtime._contract import Runtime
from ._stage import RunIterator, Stage, StageKind
from ._validation import (
    check_bool,
    check_function,
    check_hook,
    check_maxsize,
    check_source,
    check_sources,
    check_timeout,
    check_workers,
)

T = TypeVar("T")
R = TypeVar("R")
Hook = Callable[..., Any]


class StageOptions(TypedDict, total=False):
    """The keyword options of ``map``, ``flat_map``, ``filter`` and ``each`` (for typing)."""

    workers: int
    maxsize: int
    timeout: float
    on_start: Hook | None
    on_done: Hook | None


class Api:
    """Every combinator of one backend; a namespace module re-exports its bound methods."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- map ---------------------------------------------------------------------------------

    @overload
    def map(
        self,
        f: Callable[..., R],
        stage: None = None,
        /,
        **options: Unpack[StageOptions],
    ) -> Pipe[R]: ...

    @overload
    def map(
        self,
        f: Callable[..., R],
        stage: Iterable[Any],
        /,
        **options: Unpack[StageOptions],
    ) -> Stage[R]: ...

    def map(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | None = None,
        /,
        *,
        workers: int = 1,
        maxsize: int = 0,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
    ) -> Stage[Any] | Pipe[Any]:
        """Apply ``f`` to every item, with ``workers`` calls running at once.

        Without ``stage`` it returns a partial for ``source | map(f)``. ``f`` takes the item
        first; it may also name ``element_index``, ``worker_info`` or any key of the dict
        ``on_start`` returns, and receives them by name. Output order follows completion
        (use ``ordered`` or the ``sync`` backend for input order).

        Args:
            f: the function applied to each item.
            stage: a stage or any iterable; omitted for the partial form.
            workers: how many calls run at once (>= 1).
            maxsize: bound of the stage's input queue (0: unbounded).
            timeout: seconds one call may take (0: no limit); an item whose call runs over
                it is skipped and counted in ``RunIterator.timed_out()``.
            on_start: runs once per worker before its first item; may return a dict of
                resources injected by name into ``f`` and ``on_done``.
            on_done: runs once per worker after its last item; may ask for
                ``stage_status`` and ``worker_info``.

        >>> import pypeln as pl
        >>> sorted(pl.thread.map(lambda x: x * 2, range(4), workers=2))
        [0, 2, 4, 6]
        """
        return self._stage("map", f, stage, workers, maxsize, timeout, on_start, on_done)

    # -- flat_map ----------------------------------------------------------------------------

    @overload
    def flat_map(
        self,
        f: Callable[..., Iterable[R]],
        stage: None = None,
        /,
        **options: Unpack[StageOptions],
    ) -> Pipe[R]: ...

    @overload
    def flat_map(
        self,
        f: Callable[..., Iterable[R]],
        stage: Iterable[Any],
        /,
        **options: Unpack[StageOptions],
    ) -> Stage[R]: ...

    def flat_map(
        self,
        f: Callable[..., Iterable[Any]],
        stage: Iterable[Any] | None = None,
        /,
        *,
        workers: int = 1,
        maxsize: int = 0,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
    ) -> Stage[Any] | Pipe[Any]:
        """Emit every item of the iterable ``f(x)`` returns (``f`` may be a generator).

        Arguments as in ``map``. Each emitted item's ``element_index`` is its parent's
        with one more level, so ``ordered`` puts expansions in place. With a ``timeout``,
        producing all of ``f(x)``'s items must fit in it (they are collected in the call).

        >>> import pypeln as pl
        >>> list(pl.sync.flat_map(lambda x: [x] * x, [1, 2, 3]))
        [1, 2, 2, 3, 3, 3]
        """
        return self._stage("flat_map", f, stage, workers, maxsize, timeout, on_start, on_done)

    # -- filter ------------------------------------------------------------------------------

    @overload
    def filter(
        self,
        f: Callable[..., Any],
        stage: None = None,
        /,
        **options: Unpack[StageOptions],
    ) -> SameTypePipe: ...

    @overload
    def filter(
        self,
        f: Callable[..., Any],
        stage: Iterable[T],
        /,
        **options: Unpack[StageOptions],
    ) -> Stage[T]: ...

    def filter(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | None = None,
        /,
        *,
        workers: int = 1,
        maxsize: int = 0,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
    ) -> Stage[Any] | SameTypePipe:
        """Keep the items for which ``f(x)`` is truthy. Arguments as in ``map``.

        >>> import pypeln as pl
        >>> list(pl.sync.filter(lambda x: x % 2, range(7)))
        [1, 3, 5]
        """
        build = self._builder("filter", f, workers, maxsize, timeout, on_start, on_done)
        return SameTypePipe(build) if stage is None else build(stage)

    # -- each --------------------------------------------------------------------------------

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: None = None,
        /,
        *,
        run: Literal[False] = False,
        **options: Unpack[StageOptions],
    ) -> Pipe[Any]: ...

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: None = None,
        /,
        *,
        run: Literal[True],
        **options: Unpack[StageOptions],
    ) -> RunPipe: ...

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any],
        /,
        *,
        run: Literal[False] = False,
        **options: Unpack[StageOptions],
    ) -> Stage[Any]: ...

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any],
        /,
        *,
        run: Literal[True],
        **options: Unpack[StageOptions],
    ) -> None: ...

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any],
        /,
        *,
        run: bool,
        **options: Unpack[StageOptions],
    ) -> Stage[Any] | None: ...

    def each(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | None = None,
        /,
        *,
        workers: int = 1,
        maxsize: int = 0,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: bool = False,
    ) -> Stage[Any] | Pipe[Any] | RunPipe | None:
        """Call ``f(x)`` on every item for its side effects; the stage yields nothing.

        Arguments as in ``map``; with ``run=True`` the stage is consumed at once and the
        call returns ``None`` (the partial form runs when it gets its source).

        >>> import pypeln as pl
        >>> seen = []
        >>> pl.sync.each(seen.append, range(3), run=True)
        >>> range(3, 5) | pl.sync.each(seen.append, run=True)
        >>> seen
        [0, 1, 2, 3, 4]
        """
        check_bool("each", "run", run)
        build = self._builder("each", f, workers, maxsize, timeout, on_start, on_done)
        if stage is None:
            return RunPipe(lambda source: self.run(build(source))) if run else Pipe(build)
        if run:
            self.run(build(stage))
            return None
        return build(stage)

    # -- concat, ordered ---------------------------------------------------------------------

    def concat(self, stages: Sequence[Iterable[T]], maxsize: int = 0) -> Stage[T]:
        """Merge the items of several stages or iterables into one stage.

        Items arrive as their sources produce them; ``ordered`` after ``concat`` sorts by
        source index and keeps items of equal index in the order of ``stages``.

        >>> import pypeln as pl
        >>> list(pl.sync.concat([[1, 2], range(3)]))
        [1, 2, 0, 1, 2]
        """
        upstreams = check_sources("concat", "stages", stages)
        if not upstreams:
            raise ValueError("concat(): stages must name at least one stage or iterable")
        return Stage("concat", self.runtime, upstreams, maxsize=check_maxsize("concat", maxsize))

    @overload
    def ordered(self, stage: None = None, /) -> SameTypePipe: ...

    @overload
    def ordered(self, stage: Iterable[T], /) -> Stage[T]: ...

    def ordered(self, stage: Iterable[Any] | None = None, /) -> Stage[Any] | SameTypePipe:
        """Restore input order: items sorted by the position of their source item.

        It waits for its whole input before emitting (memory grows with the input).

        >>> import pypeln as pl
        >>> stage = pl.thread.map(lambda x: x * x, range(6), workers=3)
        >>> list(pl.thread.ordered(stage))
        [0, 1, 4, 9, 16, 25]
        """
        if stage is None:
            return SameTypePipe(self.ordered)
        return Stage("ordered", self.runtime, (check_source("ordered", "stage", stage),))

    # -- sources and sinks -------------------------------------------------------------------

    @overload
    def from_iterable(self, iterable: None = None, /, maxsize: int = 0) -> SameTypePipe: ...

    @overload
    def from_iterable(self, iterable: Iterable[T], /, maxsize: int = 0) -> Stage[T]: ...

    def from_iterable(
        self, iterable: Iterable[Any] | None = None, /, maxsize: int = 0
    ) -> Stage[Any] | SameTypePipe:
        """A stage that reads ``iterable`` in a worker of this backend.

        ``maxsize`` bounds how many read items may wait for the next stage (0: no bound
        beyond the next stage's own). Any stage already accepts a plain iterable; use this
        to read a slow or blocking iterable off the consumer's thread.

        >>> import pypeln as pl
        >>> list(pl.thread.from_iterable("abc"))
        ['a', 'b', 'c']
        """
        check_maxsize("from_iterable", maxsize)
        if iterable is None:
            return SameTypePipe(lambda source: self.from_iterable(source, maxsize))
        source = check_source("from_iterable", "iterable", iterable)
        return Stage("from_iterable", self.runtime, (source,), maxsize=maxsize)

    @overload
    def to_iterable(
        self, stage: None = None, /, maxsize: int = 0, return_index: Literal[False] = False
    ) -> IteratorPipe: ...

    @overload
    def to_iterable(
        self, stage: None = None, /, maxsize: int = 0, *, return_index: Literal[True]
    ) -> IndexedIteratorPipe: ...

    @overload
    def to_iterable(
        self, stage: Iterable[T], /, maxsize: int = 0, return_index: Literal[False] = False
    ) -> RunIterator[T]: ...

    @overload
    def to_iterable(
        self, stage: Iterable[T], /, maxsize: int = 0, *, return_index: Literal[True]
    ) -> RunIterator[tuple[Index, T]]: ...

    def to_iterable(
        self, stage: Iterable[Any] | None = None, /, maxsize: int = 0, return_index: bool = False
    ) -> RunIterator[Any] | IteratorPipe | IndexedIteratorPipe:
        """Run ``stage`` and return its iterator, with statistics (``close()`` stops early).

        ``maxsize`` bounds the consumer's queue (0: the last stage's ``maxsize``); with
        ``return_index`` the items come as ``(element_index, item)`` pairs. Without ``stage``
        it returns a partial for ``source | to_iterable(...)``.

        >>> import pypeln as pl
        >>> list(pl.sync.to_iterable(pl.sync.map(str.upper, "ab"), return_index=True))
        [((0,), 'A'), ((1,), 'B')]
        >>> run = "xy" | pl.thread.to_iterable(maxsize=1)
        >>> sorted(run), run.timed_out()
        (['x', 'y'], {})
        """
        maxsize = check_maxsize("to_iterable", maxsize)
        check_bool("to_iterable", "return_index", return_index)

        def build(source: Iterable[Any]) -> RunIterator[Any]:
            own = self._own(check_source("to_iterable", "stage", source))
            return RunIterator(own, maxsize=maxsize, return_index=return_index)

        if stage is None:
            return IndexedIteratorPipe(build) if return_index else IteratorPipe(build)
        return build(stage)

    def run(self, *stages: Iterable[Any], maxsize: int = 0) -> None:
        """Run one or more stages to the end for their side effects, discarding the items.

        ``run([a, b])`` is accepted too, as in pypeln 0.4.

        >>> import pypeln as pl
        >>> seen = []
        >>> pl.sync.run(pl.sync.map(seen.append, range(2)), maxsize=0)
        >>> seen
        [0, 1]
        """
        check_maxsize("run", maxsize)
        if len(stages) == 1 and isinstance(stages[0], (list, tuple)):
            stages = tuple(stages[0])
        if not stages:
            raise TypeError("run(): pass at least one stage to run")
        upstreams = check_sources("run", "stages", list(stages))
        merged = upstreams[0] if len(upstreams) == 1 else self.concat(list(upstreams))
        for _ in self.to_iterable(merged, maxsize):
            pass

    # -- shared helpers ----------------------------------------------------------------------

    def _stage(
        self,
        kind: StageKind,
        f: Callable[..., Any],
        stage: Iterable[Any] | None,
        workers: int,
        maxsize: int,
        timeout: float,
        on_start: Hook | None,
        on_done: Hook | None,
    ) -> Stage[Any] | Pipe[Any]:
        build = self._builder(kind, f, workers, maxsize, timeout, on_start, on_done)
        return Pipe(build) if stage is None else build(stage)

    def _builder(
        self,
        kind: StageKind,
        f: Callable[..., Any],
        workers: int,
        maxsize: int,
        timeout: float,
        on_start: Hook | None,
        on_done: Hook | None,
    ) -> Callable[[Iterable[Any]], Stage[Any]]:
        """Check every argument now and return what builds the stage once the source is known."""
        check_function(kind, "f", f)
        options = {
            "workers": check_workers(kind, workers),
            "maxsize": check_maxsize(kind, maxsize),
            "timeout": check_timeout(kind, timeout),
            "on_start": check_hook(kind, "on_start", on_start),
            "on_done": check_hook(kind, "on_done", on_done),
        }
        check_injections(kind, f, on_start, on_done)

        def build(source: Iterable[Any]) -> Stage[Any]:
            upstream = check_source(kind, "stage", source)
            return Stage(kind, self.runtime, (upstream,), f, **options)  # type: ignore[arg-type]

        return build

    def _own(self, source: Iterable[Any]) -> Stage[Any]:
        """``source`` as a stage of this backend (a plain iterable becomes ``from_iterable``)."""
        if isinstance(source, Stage) and source.runtime is self.runtime:
            return source
        return Stage("from_iterable", self.runtime, (source,))
