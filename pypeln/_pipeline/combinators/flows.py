"""The combinators that shape and run a flow (concat, ordered, sources and sinks).

>>> import pypeln as pl
>>> list(pl.sync.ordered(pl.sync.concat([[3], [1, 2]])))
[3, 1, 2]
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from typing import IO, Any, Literal, TypeVar, overload

from ..._backends.contract import Backend
from ..element import Element
from ..feed import Feed
from ..stage import RunIterator, Stage, source_name
from .partial import BatchPipe, IndexedIteratorPipe, IteratorPipe, SameTypePipe, Source
from .validation import (
    check_bool,
    check_maxsize,
    check_monitor,
    check_progress,
    check_size,
    check_source,
    check_sources,
    check_stage_maxsize,
    check_timeout,
)

T = TypeVar("T")


class Flows:
    """``concat``, ``ordered``, the sources and sinks, and ``run`` (part of ``Api``)."""

    backend: Backend

    # -- concat, ordered ---------------------------------------------------------------------

    def concat(self, stages: Sequence[Iterable[T]], maxsize: int | None = None) -> Stage[T]:
        """Merge the items of several stages or iterables into one stage.

        Items arrive as their sources produce them and keep their source indices, so
        ``ordered`` after ``concat`` interleaves the sources by index (on ``sync``, items
        of equal index come in the order of ``stages``; elsewhere in arrival order).

        >>> import pypeln as pl
        >>> list(pl.sync.concat([[1, 2], range(3)]))
        [1, 2, 0, 1, 2]
        """
        upstreams = check_sources("concat", "stages", stages)
        if not upstreams:
            raise ValueError("concat(): stages must name at least one stage or iterable")
        return Stage(
            "concat", self.backend, upstreams, maxsize=check_stage_maxsize("concat", maxsize)
        )

    @overload
    def ordered(self, stage: None = None, maxsize: int | None = None) -> SameTypePipe: ...

    @overload
    def ordered(
        self, stage: Iterable[T] | AsyncIterable[T], maxsize: int | None = None
    ) -> Stage[T]: ...

    def ordered(
        self, stage: Source | None = None, maxsize: int | None = None
    ) -> Stage[Any] | SameTypePipe:
        """Restore input order: items sorted by the position of their source item.

        After a chain of ``map``, ``filter`` and ``flat_map`` from an iterable, it streams:
        each item goes on as soon as every item before it has gone on or is known to be
        gone (filtered out, skipped, expanded into nothing), and it holds only the items
        that came early, so it works on an endless source. After ``concat``, a stage read
        by several others, or a stage of another backend, it waits for its whole input.
        ``maxsize`` bounds its input queue (None: a bound sized for it; 0: unbounded).
        ``ordered=True`` on ``map``,
        ``flat_map``, ``filter`` and ``each`` puts it after the stage for you.

        >>> import pypeln as pl
        >>> stage = pl.thread.map(lambda x: x * x, range(6), workers=3)
        >>> list(pl.thread.ordered(stage))
        [0, 1, 4, 9, 16, 25]
        """
        maxsize = check_stage_maxsize("ordered", maxsize)
        if stage is None:
            return SameTypePipe(lambda source: self.ordered(source, maxsize))
        source = check_source("ordered", "stage", stage)
        return Stage("ordered", self.backend, (source,), maxsize=maxsize)

    # -- batch -------------------------------------------------------------------------------

    @overload
    def batch(
        self,
        size: int,
        stage: None = None,
        /,
        *,
        timeout: float = 0,
        maxsize: int | None = None,
    ) -> BatchPipe: ...

    @overload
    def batch(
        self,
        size: int,
        stage: Iterable[T] | AsyncIterable[T],
        /,
        *,
        timeout: float = 0,
        maxsize: int | None = None,
    ) -> Stage[list[T]]: ...

    def batch(
        self,
        size: int,
        stage: Source | None = None,
        /,
        *,
        timeout: float = 0,
        maxsize: int | None = None,
    ) -> Stage[Any] | BatchPipe:
        """Lists of ``size`` consecutive items, in the order they arrive; the last list may
        be shorter.

        With ``timeout`` > 0, a shorter list goes on once its first item has waited that
        many seconds, so that a slow or bursty source does not hold items back (on ``sync``,
        where the consumer's thread reads the source, the list goes on when the next item
        comes, or at the end).
        ``flat_map`` undoes it: ``stage | pl.thread.flat_map(lambda batch: batch)``.
        ``maxsize`` bounds its input queue (None: a bound sized for it; 0: unbounded).

        >>> import pypeln as pl
        >>> list(pl.sync.batch(2, range(5)))
        [[0, 1], [2, 3], [4]]
        >>> range(4) | pl.thread.batch(3) | list
        [[0, 1, 2], [3]]
        """
        count = check_size("batch", size)
        wait = check_timeout("batch", timeout)
        maxsize = check_stage_maxsize("batch", maxsize)

        def build(source: Source) -> Stage[Any]:
            upstream = check_source("batch", "stage", source)
            return Stage(
                "batch",
                self.backend,
                (upstream,),
                maxsize=maxsize,
                batch_size=count,
                batch_wait=wait,
            )

        return BatchPipe(build) if stage is None else build(stage)

    # -- sources and sinks -------------------------------------------------------------------

    def feed(self, maxsize: int = 0) -> Feed[Any]:
        """A source to push items into while the pipeline runs.

        Any thread may ``put(x)`` (it waits while ``maxsize`` items wait, 0: no bound),
        async code ``await feed.aput(x)``, and another process may put too (pass it the
        feed: it pickles). ``close()`` ends the stream. A stage reads the feed like any
        iterable, in one run. A put after ``close()`` raises ``ValueError``; a put into a
        feed whose run stopped raises ``pl.FeedStoppedError`` rather than wait.

        >>> import pypeln as pl
        >>> feed = pl.sync.feed()
        >>> for word in ["a", "b"]:
        ...     feed.put(word)
        >>> feed.close()
        >>> list(pl.sync.map(str.upper, feed))
        ['A', 'B']
        """
        return Feed(check_maxsize("feed", maxsize))

    @overload
    def from_iterable(
        self, iterable: None = None, use_thread: bool = True, maxsize: int = 0
    ) -> SameTypePipe: ...

    @overload
    def from_iterable(
        self, iterable: Iterable[T] | AsyncIterable[T], use_thread: bool = True, maxsize: int = 0
    ) -> Stage[T]: ...

    def from_iterable(
        self, iterable: Source | None = None, use_thread: bool = True, maxsize: int = 0
    ) -> Stage[Any] | SameTypePipe:
        """A stage that reads ``iterable`` off the consumer's thread (on ``sync``: in it).

        ``maxsize`` bounds how many read items may wait for the next stage (0: no bound
        beyond the next stage's own). Any stage already accepts a plain iterable; use this
        to read a slow or blocking iterable apart from the stage's workers. ``use_thread``
        is accepted for pypeln 0.4 programs and changes nothing: every backend reads a
        source in the consumer's process, in a thread of its own (``sync`` in the
        consumer's thread; ``task`` reads lists and other collections, and async iterables,
        in its event loop).

        >>> import pypeln as pl
        >>> list(pl.thread.from_iterable("abc"))
        ['a', 'b', 'c']
        """
        check_bool("from_iterable", "use_thread", use_thread)
        check_maxsize("from_iterable", maxsize)
        if iterable is None:
            return SameTypePipe(lambda source: self.from_iterable(source, use_thread, maxsize))
        source = check_source("from_iterable", "iterable", iterable)
        return Stage("from_iterable", self.backend, (source,), maxsize=maxsize)

    @overload
    def to_iterable(
        self,
        stage: None = None,
        maxsize: int = 0,
        return_index: Literal[False] = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> IteratorPipe: ...

    @overload
    def to_iterable(
        self,
        stage: None = None,
        maxsize: int = 0,
        *,
        return_index: Literal[True],
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> IndexedIteratorPipe: ...

    @overload
    def to_iterable(
        self,
        stage: Iterable[T],
        maxsize: int = 0,
        return_index: Literal[False] = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[T]: ...

    @overload
    def to_iterable(
        self,
        stage: Iterable[T],
        maxsize: int = 0,
        *,
        return_index: Literal[True],
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Element[T]]: ...

    @overload
    def to_iterable(
        self,
        stage: Iterable[Any],
        maxsize: int = 0,
        return_index: bool = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Any]: ...

    def to_iterable(
        self,
        stage: Iterable[Any] | None = None,
        maxsize: int = 0,
        return_index: bool = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Any] | IteratorPipe | IndexedIteratorPipe:
        """Run ``stage`` and return its iterator, with statistics (``close()`` stops early).

        ``maxsize`` bounds the consumer's queue (0: the last stage's ``maxsize``); with
        ``return_index`` the items come as ``Element(index, value)`` pairs. Without ``stage``
        it returns a partial for ``source | to_iterable(...)``. The run may be consumed
        with ``for`` or with ``async for`` (see ``RunIterator``).

        >>> import pypeln as pl
        >>> list(pl.sync.to_iterable(pl.sync.map(str.upper, "ab"), return_index=True))
        [Element(index=(0,), value='A'), Element(index=(1,), value='B')]
        >>> run = "xy" | pl.thread.to_iterable(maxsize=1)
        >>> sorted(run), run.timed_out()
        (['x', 'y'], {})
        """
        return self._to_run("to_iterable", stage, maxsize, return_index, progress, monitor)

    @overload
    def to_async_iterable(
        self,
        stage: None = None,
        maxsize: int = 0,
        return_index: Literal[False] = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> IteratorPipe: ...

    @overload
    def to_async_iterable(
        self,
        stage: None = None,
        maxsize: int = 0,
        *,
        return_index: Literal[True],
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> IndexedIteratorPipe: ...

    @overload
    def to_async_iterable(
        self,
        stage: Iterable[T],
        maxsize: int = 0,
        return_index: Literal[False] = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[T]: ...

    @overload
    def to_async_iterable(
        self,
        stage: Iterable[T],
        maxsize: int = 0,
        *,
        return_index: Literal[True],
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Element[T]]: ...

    @overload
    def to_async_iterable(
        self,
        stage: Iterable[Any],
        maxsize: int = 0,
        return_index: bool = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Any]: ...

    def to_async_iterable(
        self,
        stage: Iterable[Any] | None = None,
        maxsize: int = 0,
        return_index: bool = False,
        *,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> RunIterator[Any] | IteratorPipe | IndexedIteratorPipe:
        """``to_iterable`` for ``async for``: the same run, consumed in the running loop.

        It is there for pypeln 0.4 programs; ``to_iterable``'s run, and any stage, can be
        consumed with ``async for`` too. Arguments as in ``to_iterable``.

        >>> import asyncio
        >>> import pypeln as pl
        >>> async def main():
        ...     run = pl.thread.to_async_iterable(pl.thread.map(abs, [-1, -2]))
        ...     return sorted([x async for x in run]), run.timed_out()
        >>> asyncio.run(main())
        ([1, 2], {})
        """
        return self._to_run("to_async_iterable", stage, maxsize, return_index, progress, monitor)

    def run(
        self,
        *stages: Iterable[Any],
        maxsize: int = 0,
        progress: bool | IO[str] = False,
        monitor: int | None = None,
    ) -> None:
        """Run one or more stages to the end for their side effects, discarding the items.

        ``run([a, b])`` is accepted too, as in pypeln 0.4.

        >>> import pypeln as pl
        >>> seen = []
        >>> pl.sync.run(pl.sync.map(seen.append, range(2)), maxsize=0)
        >>> seen
        [0, 1]
        """
        check_maxsize("run", maxsize)
        check_progress("run", progress)
        check_monitor("run", monitor)
        if len(stages) == 1 and isinstance(stages[0], (list, tuple)):
            stages = tuple(stages[0])
        if not stages:
            raise TypeError("run(): pass at least one stage to run")
        upstreams = check_sources("run", "stages", list(stages))
        if len(upstreams) == 1:
            merged = self._own(upstreams[0], "run")
        else:  # a concat the user did not write: its sources are named as passed to run
            merged = Stage("concat", self.backend, upstreams, label="run")
        run: RunIterator[Any] = RunIterator(
            merged, maxsize=maxsize, return_index=False, progress=progress, monitor=monitor
        )
        for _ in run:
            pass

    def _to_run(
        self,
        api: str,
        stage: Iterable[Any] | None,
        maxsize: int,
        return_index: bool,
        progress: bool | IO[str],
        monitor: int | None,
    ) -> RunIterator[Any] | IteratorPipe | IndexedIteratorPipe:
        """``to_iterable`` and ``to_async_iterable``: checks now, the run once it has its stage."""
        maxsize = check_maxsize(api, maxsize)
        check_bool(api, "return_index", return_index)
        check_progress(api, progress)
        check_monitor(api, monitor)

        def build(source: Iterable[Any]) -> RunIterator[Any]:
            own = self._own(check_source(api, "stage", source), api)
            return RunIterator(
                own, maxsize=maxsize, return_index=return_index, progress=progress, monitor=monitor
            )

        if stage is None:
            return IndexedIteratorPipe(build) if return_index else IteratorPipe(build)
        return build(stage)

    def _own(self, source: Iterable[Any], api: str) -> Stage[Any]:
        """``source`` as a stage of this backend (else a source read for ``api``)."""
        if isinstance(source, Stage) and self.backend.runs_with(source.backend):
            return source
        return Stage("from_iterable", self.backend, (source,), label=source_name(source, api))
