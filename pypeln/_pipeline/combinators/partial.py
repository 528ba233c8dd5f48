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

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Generic, TypeAlias, TypeVar

from ..element import Element
from ..stage import RunIterator, Stage

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
#: What a stage reads: a stage or any iterable, sync or async.
Source: TypeAlias = "Iterable[Any] | AsyncIterable[Any]"


class Pipe(Generic[T_co]):
    """A stage waiting for its source; the item type it produces is known already."""

    def __init__(self, build: Callable[[Source], Stage[T_co]]) -> None:
        self._build = build

    def __call__(self, source: Source) -> Stage[T_co]:
        return self._build(source)

    def __ror__(self, source: Source) -> Stage[T_co]:
        return self._build(source)


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
