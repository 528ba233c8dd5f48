"""The partial form of a combinator, for ``source | pl.thread.map(f)``.

Calling a combinator without its source returns a pipe; a pipe applied to a source (by
``|`` or by calling it) builds the stage. Its checks ran already, at the partial call.

>>> import pypeln as pl
>>> [1, 2, 3] | pl.sync.map(lambda x: x + 1) | list
[2, 3, 4]
>>> range(6) | pl.sync.filter(lambda x: x % 2 == 0) | list
[0, 2, 4]
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Concatenate, Generic, TypeAlias, TypeVar, overload

from ..element import Element
from ..stage import RunIterator, Stage

T = TypeVar("T")
R = TypeVar("R")
#: The type of the function a partial form was given (``Callable[[str], int]``, say).
F_co = TypeVar("F_co", bound=Callable[..., Any], covariant=True)
#: What a stage reads: a stage or any iterable, sync or async.
Source: TypeAlias = "Iterable[Any] | AsyncIterable[Any]"
#: A source of items of type ``T``.
Items: TypeAlias = "Iterable[T] | AsyncIterable[T]"


class _Partial:
    """What every pipe of a per-item combinator does: build the stage once it has its source.

    Its subclasses differ only in types. Each is generic in the type of the function ``f``
    the user passed (``F``), and its ``__ror__`` takes a source whose items ``f`` accepts:
    ``range(3) | pl.thread.map(parse_bytes)`` is rejected by a type checker, while a lambda,
    whose parameter has no type yet, accepts any source.
    """

    def __init__(self, build: Callable[[Source], Stage[Any]]) -> None:
        #: What builds the stage from its source (another pipe may take it over).
        self.build = build

    def _apply(self, source: Source) -> Any:
        return self.build(source)


class Pipe(_Partial, Generic[F_co]):
    """``map(f)`` waiting for its source: a stage of what ``f`` returns."""

    @overload
    def __call__(self: Pipe[Callable[[T], R]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __call__(self: Pipe[Callable[Concatenate[T, ...], R]], source: Items[T]) -> Stage[R]: ...
    def __call__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]

    @overload
    def __ror__(self: Pipe[Callable[[T], R]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __ror__(self: Pipe[Callable[Concatenate[T, ...], R]], source: Items[T]) -> Stage[R]: ...
    def __ror__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]


class AwaitingPipe(_Partial, Generic[F_co]):
    """``pl.task.map(f)`` waiting for its source: an ``async def`` ``f``'s calls are awaited."""

    @overload
    def __call__(self: AwaitingPipe[Callable[[T], Awaitable[R]]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __call__(
        self: AwaitingPipe[Callable[Concatenate[T, ...], Awaitable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    @overload
    def __call__(self: AwaitingPipe[Callable[[T], R]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __call__(
        self: AwaitingPipe[Callable[Concatenate[T, ...], R]], source: Items[T]
    ) -> Stage[R]: ...
    def __call__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]

    @overload
    def __ror__(self: AwaitingPipe[Callable[[T], Awaitable[R]]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __ror__(
        self: AwaitingPipe[Callable[Concatenate[T, ...], Awaitable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    @overload
    def __ror__(self: AwaitingPipe[Callable[[T], R]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __ror__(
        self: AwaitingPipe[Callable[Concatenate[T, ...], R]], source: Items[T]
    ) -> Stage[R]: ...
    def __ror__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]


class AwaitingFlatPipe(_Partial, Generic[F_co]):
    """``pl.task.flat_map(f)`` waiting for its source: ``f`` may be an async generator
    function, or an ``async def`` returning an iterable."""

    @overload
    def __call__(
        self: AwaitingFlatPipe[Callable[[T], AsyncIterable[R] | Awaitable[Iterable[R]]]],
        source: Items[T],
    ) -> Stage[R]: ...
    @overload
    def __call__(
        self: AwaitingFlatPipe[
            Callable[Concatenate[T, ...], AsyncIterable[R] | Awaitable[Iterable[R]]]
        ],
        source: Items[T],
    ) -> Stage[R]: ...
    @overload
    def __call__(
        self: AwaitingFlatPipe[Callable[[T], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    @overload
    def __call__(
        self: AwaitingFlatPipe[Callable[Concatenate[T, ...], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    def __call__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]

    @overload
    def __ror__(
        self: AwaitingFlatPipe[Callable[[T], AsyncIterable[R] | Awaitable[Iterable[R]]]],
        source: Items[T],
    ) -> Stage[R]: ...
    @overload
    def __ror__(
        self: AwaitingFlatPipe[
            Callable[Concatenate[T, ...], AsyncIterable[R] | Awaitable[Iterable[R]]]
        ],
        source: Items[T],
    ) -> Stage[R]: ...
    @overload
    def __ror__(
        self: AwaitingFlatPipe[Callable[[T], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    @overload
    def __ror__(
        self: AwaitingFlatPipe[Callable[Concatenate[T, ...], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    def __ror__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]


class FlatPipe(_Partial, Generic[F_co]):
    """``flat_map(f)`` waiting for its source: a stage of the items ``f``'s iterables hold."""

    @overload
    def __call__(self: FlatPipe[Callable[[T], Iterable[R]]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __call__(
        self: FlatPipe[Callable[Concatenate[T, ...], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    def __call__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]

    @overload
    def __ror__(self: FlatPipe[Callable[[T], Iterable[R]]], source: Items[T]) -> Stage[R]: ...
    @overload
    def __ror__(
        self: FlatPipe[Callable[Concatenate[T, ...], Iterable[R]]], source: Items[T]
    ) -> Stage[R]: ...
    def __ror__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]


class EachPipe(_Partial, Generic[F_co]):
    """``each(f)`` waiting for its source: a stage that yields nothing."""

    @overload
    def __call__(self: EachPipe[Callable[[T], object]], source: Items[T]) -> Stage[Any]: ...
    @overload
    def __call__(
        self: EachPipe[Callable[Concatenate[T, ...], object]], source: Items[T]
    ) -> Stage[Any]: ...
    def __call__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]

    @overload
    def __ror__(self: EachPipe[Callable[[T], object]], source: Items[T]) -> Stage[Any]: ...
    @overload
    def __ror__(
        self: EachPipe[Callable[Concatenate[T, ...], object]], source: Items[T]
    ) -> Stage[Any]: ...
    def __ror__(self, source: Source) -> Stage[Any]:
        return self._apply(source)  # type: ignore[no-any-return]


class SameTypePipe:
    """A stage waiting for its source that yields items of the source's own type."""

    def __init__(self, build: Callable[[Source], Stage[Any]]) -> None:
        self._build = build

    def __call__(self, source: Iterable[T] | AsyncIterable[T]) -> Stage[T]:
        stage: Stage[T] = self._build(source)
        return stage

    def __ror__(self, source: Iterable[T] | AsyncIterable[T]) -> Stage[T]:
        return self(source)


class BatchPipe:
    """A stage waiting for its source that yields lists of the source's items (``batch``)."""

    def __init__(self, build: Callable[[Source], Stage[Any]]) -> None:
        self._build = build

    def __call__(self, source: Iterable[T] | AsyncIterable[T]) -> Stage[list[T]]:
        stage: Stage[list[T]] = self._build(source)
        return stage

    def __ror__(self, source: Iterable[T] | AsyncIterable[T]) -> Stage[list[T]]:
        return self(source)


class RunPipe:
    """A stage waiting for its source that runs to the end once it has it (``each(run=True)``)."""

    def __init__(self, run: Callable[[Iterable[Any]], None]) -> None:
        self._run = run

    def __call__(self, source: Iterable[Any]) -> None:
        self._run(source)

    def __ror__(self, source: Iterable[Any]) -> None:
        self._run(source)


class IteratorPipe:
    """``to_iterable`` waiting for its source."""

    def __init__(self, build: Callable[[Iterable[Any]], RunIterator[Any]]) -> None:
        self._build = build

    def __call__(self, source: Iterable[T]) -> RunIterator[T]:
        run: RunIterator[T] = self._build(source)
        return run

    def __ror__(self, source: Iterable[T]) -> RunIterator[T]:
        return self(source)


class IndexedIteratorPipe:
    """``to_iterable(return_index=True)`` waiting for its source."""

    def __init__(self, build: Callable[[Iterable[Any]], RunIterator[Any]]) -> None:
        self._build = build

    def __call__(self, source: Iterable[T]) -> RunIterator[Element[T]]:
        run: RunIterator[Element[T]] = self._build(source)
        return run

    def __ror__(self, source: Iterable[T]) -> RunIterator[Element[T]]:
        return self(source)
