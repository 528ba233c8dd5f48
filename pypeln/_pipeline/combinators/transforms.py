"""The per-item combinators (map, flat_map, filter, each), written once for every backend.

Checks run here, eagerly, so bad input fails at the call that caused it, partial form or not.

>>> import pypeln as pl
>>> pl.sync.map(str, [1], workers=0)
Traceback (most recent call last):
...
ValueError: map(): workers must be an int >= 1, got 0
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Hashable, Iterable
from typing import Any, Concatenate, Literal, TypedDict, TypeVar, overload

from ..._worker.async_kernels import is_async_callable
from ..._worker.hooks import check_injections
from ..._worker.policies.failures import OnError, Retry
from ..stage import Stage, StageKind
from .flows import Flows
from .partial import EachPipe, FlatPipe, Items, Pipe, RunPipe, SameTypePipe, Source
from .validation import (
    check_bool,
    check_function,
    check_hook,
    check_key,
    check_on_error,
    check_plain_function,
    check_rate,
    check_retries,
    check_source,
    check_stage_maxsize,
    check_timeout,
    check_workers,
    plain_function_threads,
)

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
Hook = Callable[..., Any]
#: ``key=``: a function of the item whose value says which worker gets it.
KeyFunction = Callable[[Any], Hashable]


class StageOptions(TypedDict, total=False):
    """The keyword options of ``map``, ``flat_map``, ``filter`` and ``each`` (for typing)."""

    workers: int
    maxsize: int | None
    timeout: float
    on_start: Hook | None
    on_done: Hook | None
    on_error: OnError
    retries: int | Retry
    rate: float | None
    ordered: bool
    key: KeyFunction | None


class Transforms(Flows):
    """``map``, ``flat_map``, ``filter`` and ``each`` of one backend, on top of ``Flows``.

    Their parameters are pypeln 0.4's, in its order: ``map(f, xs, 4)`` passes ``workers``.
    """

    # -- map ---------------------------------------------------------------------------------

    @overload
    def map(
        self,
        f: F,
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Pipe[F]: ...

    @overload
    def map(
        self,
        f: Callable[[T], R],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def map(
        self,
        f: Callable[Concatenate[T, ...], R],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    def map(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | Pipe[Any]:
        """Apply ``f`` to every item, with ``workers`` calls running at once.

        Without ``stage`` it returns a partial for ``source | map(f)``. ``f`` takes the item
        first; it may also name ``element_index``, ``worker_info`` or any key of the dict
        ``on_start`` returns, and receives them by name. Output order follows completion
        (``ordered=True``, or an ``ordered`` stage after it, restores input order).

        Args:
            f: the function applied to each item.
            stage: a stage or any iterable; omitted (or None) for the partial form.
            workers: how many calls run at once (>= 1). On ``pl.task``, 0 means no limit:
                every item's call starts at once (a plain ``f`` runs in threads, as many
                as asyncio's default executor has: ``min(32, cores + 4)``).
            maxsize: bound of the stage's input queue, in items. None (the default): a
                bound sized for the stage (``AUTOMATIC_MAXSIZE`` items, more for many
                workers), so memory stays bounded whatever the consumer's pace without
                costing throughput; 0: unbounded.
            timeout: seconds one call may take (0: no limit); an item whose call runs over
                it is skipped and counted in ``RunIterator.timed_out()``.
            on_start: runs once per worker before its first item; may return a dict of
                resources injected by name into ``f`` and ``on_done``.
            on_done: runs once per worker after its last item; may ask for
                ``stage_status`` and ``worker_info``.
            on_error: what an item whose calls failed becomes: ``"raise"`` fails the run,
                ``"skip"`` drops it (counted in ``RunIterator.failed()``), a function of a
                ``pl.Failure`` returns what to emit instead (``pl.SKIP``: nothing).
            retries: how many times a call that raises (or runs over ``timeout``) is tried
                again, or a ``pl.Retry`` (attempts, delays, which exceptions).
            rate: at most this many calls per second for the whole stage, whatever its
                workers (None: no limit); up to ``workers`` calls may start at once.
            ordered: emit the results in input order (as ``ordered`` after the stage does:
                each as soon as every one before it is done).
            key: a function of the item: items with equal keys all go to the same worker,
                in their arrival order, so per-key state kept in ``on_start`` resources is
                safe (None: any worker takes any item).

        >>> import pypeln as pl
        >>> sorted(pl.thread.map(lambda x: x * 2, range(4), workers=2))
        [0, 2, 4, 6]
        """
        build = self._builder(
            "map",
            f,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        return Pipe(build) if stage is None else build(stage)

    # -- flat_map ----------------------------------------------------------------------------

    @overload
    def flat_map(
        self,
        f: F,
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> FlatPipe[F]: ...

    @overload
    def flat_map(
        self,
        f: Callable[[T], Iterable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def flat_map(
        self,
        f: Callable[Concatenate[T, ...], Iterable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    def flat_map(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | FlatPipe[Any]:
        """Emit every item of the iterable ``f(x)`` returns (``f`` may be a generator).

        Arguments as in ``map``. Each emitted item's ``element_index`` is its parent's
        with one more level, so ``ordered`` puts expansions in place. With a ``timeout``,
        producing all of ``f(x)``'s items must fit in it (they are collected in the call).

        >>> import pypeln as pl
        >>> list(pl.sync.flat_map(lambda x: [x] * x, [1, 2, 3]))
        [1, 2, 2, 3, 3, 3]
        """
        build = self._builder(
            "flat_map",
            f,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        return FlatPipe(build) if stage is None else build(stage)

    # -- filter ------------------------------------------------------------------------------

    @overload
    def filter(
        self,
        f: Callable[..., Any],
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> SameTypePipe: ...

    @overload
    def filter(
        self,
        f: Callable[[T], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[T]: ...

    @overload
    def filter(
        self,
        f: Callable[Concatenate[T, ...], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[T]: ...

    def filter(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | SameTypePipe:
        """Keep the items for which ``f(x)`` is truthy. Arguments as in ``map``.

        >>> import pypeln as pl
        >>> list(pl.sync.filter(lambda x: x % 2, range(7)))
        [1, 3, 5]
        """
        build = self._builder(
            "filter",
            f,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        return SameTypePipe(build) if stage is None else build(stage)

    # -- each --------------------------------------------------------------------------------

    @overload
    def each(
        self,
        f: F,
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: Literal[False] = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> EachPipe[F]: ...

    @overload
    def each(
        self,
        f: Callable[..., Any],
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        run: Literal[True],
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> RunPipe: ...

    @overload
    def each(
        self,
        f: Callable[[T], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: Literal[False] = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any]: ...

    @overload
    def each(
        self,
        f: Callable[Concatenate[T, ...], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: Literal[False] = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any]: ...

    @overload
    def each(
        self,
        f: Callable[[T], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        run: Literal[True],
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> None: ...

    @overload
    def each(
        self,
        f: Callable[Concatenate[T, ...], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        run: Literal[True],
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> None: ...

    @overload
    def each(
        self,
        f: Callable[[T], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: bool = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | None: ...

    @overload
    def each(
        self,
        f: Callable[Concatenate[T, ...], object],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: bool = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | None: ...

    def each(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        run: bool = False,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | EachPipe[Any] | RunPipe | None:
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
        build = self._builder(
            "each",
            f,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        if stage is None:
            return RunPipe(lambda source: self.run(build(source))) if run else EachPipe(build)
        if run:
            self.run(build(stage))
            return None
        return build(stage)

    # -- shared helpers ----------------------------------------------------------------------

    def _builder(
        self,
        kind: StageKind,
        f: Callable[..., Any],
        workers: int,
        maxsize: int | None,
        timeout: float,
        on_start: Hook | None,
        on_done: Hook | None,
        *,
        on_error: OnError,
        retries: int | Retry,
        rate: float | None,
        ordered: bool,
        key: KeyFunction | None,
    ) -> Callable[[Source], Stage[Any]]:
        """Check every argument now and return what builds the stage once the source is known."""
        check_function(kind, "f", f)
        backend = self.backend
        count = check_workers(kind, workers, unlimited=backend.unlimited_workers)
        if count == 0 and not is_async_callable(f):
            count = plain_function_threads()  # plain calls run in threads, a bounded number
        options = {
            "workers": count,
            "maxsize": check_stage_maxsize(kind, maxsize),
            "timeout": check_timeout(kind, timeout),
            "on_start": check_hook(kind, "on_start", on_start),
            "on_done": check_hook(kind, "on_done", on_done),
            "on_error": check_on_error(kind, on_error),
            "retry": check_retries(kind, retries),
            "rate": check_rate(kind, rate),
            "key": check_key(kind, key, workers),
        }
        if not backend.async_workers:  # an async function's calls would only make coroutines
            handler = on_error if callable(on_error) else None
            hooks = (("f", f), ("on_start", on_start), ("on_done", on_done), ("on_error", handler))
            for name, fn in hooks:
                check_plain_function(kind, name, fn, backend.name)
        check_injections(kind, f, on_start, on_done)

        check_bool(kind, "ordered", ordered)

        def build(source: Source) -> Stage[Any]:
            upstream = check_source(kind, "stage", source)
            stage: Stage[Any] = Stage(kind, backend, (upstream,), f, **options)  # type: ignore[arg-type]
            return Stage("ordered", backend, (stage,)) if ordered else stage

        return build
