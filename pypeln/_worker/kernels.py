"""Kernels: what a stage does to the stream of elements one worker sees.

An element is ``(index, value)``; the index is the item's position in the source as a
tuple, and ``flat_map`` adds a level, so sorting by index restores input order. Every
backend runs these same generators: ``sync`` chains them directly, the blocking backends
feed each worker's kernel from its input channel.

>>> from pypeln._worker.hooks import Call
>>> from pypeln._worker.counters import WorkerCounters
>>> double = Call(lambda x: [x, x], False, "flat_map(double)", None, WorkerCounters())
>>> list(flat_map_kernel(double, [((0,), "a"), ((1,), "b")]))
[((0, 0), 'a'), ((0, 1), 'a'), ((1, 0), 'b'), ((1, 1), 'b')]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from operator import itemgetter
from typing import Any, Final

from .hooks import Call

Index = tuple[int, ...]
Element = tuple[Index, Any]
Kernel = Callable[[Call, Iterable[Element]], Iterable[Element]]


class _Skip:
    """What a call returns when its result must be dropped (its timeout ran out)."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()


# Each kernel wraps its whole loop in one ``try`` (free in CPython 3.11 until something
# raises) instead of wrapping every call: a call of ``f`` per element, nothing more.


def map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``f(x)`` for every element."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in elements:
            result = fn(value, element_index=index) if wants_index else fn(value)
            if result is not SKIP:
                yield index, result
    except Exception as error:
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


def filter_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """The elements for which ``f(x)`` is truthy; the others are counted as filtered out."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    counters = call.counters  # this worker's own: counted live, without a lock
    try:
        for index, value in elements:
            keep = fn(value, element_index=index) if wants_index else fn(value)
            if keep is SKIP:
                continue
            if keep:
                yield index, value
            else:
                counters.filtered_out += 1
    except Exception as error:
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


def flat_map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """Every item of the iterable ``f(x)`` returns, indexed one level deeper."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in elements:
            results = fn(value, element_index=index) if wants_index else fn(value)
            if results is not SKIP:
                for position, result in enumerate(results):
                    yield (*index, position), result
    except Exception as error:  # also what iterating f's result raised
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


def each_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """Call ``f(x)`` for its side effect; nothing flows on."""
    mapped = map_kernel(replace(call, fn=_skipped(call.fn)), elements)
    yield from mapped  # never yields: every result is SKIP


def concat_kernel(call: Call, elements: Iterable[Element]) -> Iterable[Element]:
    """Pass every element on unchanged (the merging is done by the channel)."""
    return elements


def ordered_kernel(call: Call, elements: Iterable[Element]) -> Iterable[Element]:
    """All elements, sorted by source index (stable: equal indices keep their arrival order)."""
    return sorted(elements, key=itemgetter(0))


#: How ``batch_elements`` reads: ``take(timeout, limit)`` gives up to ``limit`` elements,
#: ``[]`` at the end, or None when ``timeout`` seconds (None: no limit) passed without any.
Take = Callable[[float | None, int], list[Element] | None]


def batch_elements(take: Take, size: int, wait: float) -> Iterator[Element]:
    """Lists of ``size`` consecutive items, in the order they came; with ``wait`` > 0, a
    shorter list once its first item has waited ``wait`` seconds; the rest at the end. Each
    list's index is its first item's.

    >>> items = [[((0,), "a"), ((1,), "b"), ((2,), "c")], []]
    >>> list(batch_elements(lambda timeout, limit: items.pop(0), 2, 0))
    [((0,), ['a', 'b']), ((2,), ['c'])]
    """
    if not wait:
        yield from _sized_batches(take, size)
        return
    held: list[Element] = []
    due: float | None = None  # when the held items must go (with a wait)
    while True:
        timeout = None if due is None else max(0.0, due - time.monotonic())
        got = take(timeout, size - len(held))
        if got is None:  # the first held item has waited long enough
            yield _joined(held)
            held, due = [], None
            continue
        if not got:
            break
        for element in got:
            if due is not None and time.monotonic() >= due:  # came after the held ones left
                yield _joined(held)
                held, due = [], None
            if wait and not held:
                due = time.monotonic() + wait
            held.append(element)
            if len(held) == size:
                yield _joined(held)
                held, due = [], None
    if held:
        yield _joined(held)


def _sized_batches(take: Take, size: int) -> Iterator[Element]:
    """``batch_elements`` without a wait: no clock, and lists cut whole from what comes
    (taken a few lists' worth at a time)."""
    held: list[Element] = []
    while got := take(None, SIZED_TAKE * size):
        held += got
        whole = len(held) - len(held) % size
        for start in range(0, whole, size):
            yield _joined(held[start : start + size])
        del held[:whole]
    if held:
        yield _joined(held)


#: How many lists' worth ``batch`` takes from its input at a time, without a wait.
SIZED_TAKE = 4


def _joined(held: list[Element]) -> Element:
    return held[0][0], list(map(itemgetter(1), held))


def _skipped(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call_then_skip(*args: Any, **kwargs: Any) -> Any:
        fn(*args, **kwargs)
        return SKIP

    return call_then_skip


KERNELS: Final[dict[str, Kernel]] = {
    "map": map_kernel,
    "filter": filter_kernel,
    "flat_map": flat_map_kernel,
    "each": each_kernel,
    "concat": concat_kernel,
    "ordered": ordered_kernel,
}
