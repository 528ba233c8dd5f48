"""Kernels: what a stage does to the stream of elements one worker sees.

An element is ``(index, value)``; the index is the item's position in the source as a
tuple, and ``flat_map`` adds a level, so sorting by index restores input order. Every
backend runs these same generators: ``sync`` chains them directly, the blocking runtimes
feed each worker's kernel from its input channel.

>>> from pypeln._hooks import make_call
>>> double = make_call(lambda x: [x, x], {}, False)
>>> list(flat_map_kernel(double, [((0,), "a"), ((1,), "b")]))
[((0, 0), 'a'), ((0, 1), 'a'), ((1, 0), 'b'), ((1, 1), 'b')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any, Final

from ._errors import mark_element
from ._hooks import Call

Index = tuple[int, ...]
Element = tuple[Index, Any]
Kernel = Callable[[Call, Iterable[Element]], Iterable[Element]]


class _Skip:
    """What a call returns when its result must be dropped (its timeout ran out)."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()


def map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``f(x)`` for every element."""
    for index, value in elements:
        result = call(index, value)
        if result is not SKIP:
            yield index, result


def filter_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """The elements for which ``f(x)`` is truthy."""
    for index, value in elements:
        keep = call(index, value)
        if keep and keep is not SKIP:
            yield index, value


def flat_map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """Every item of the iterable ``f(x)`` returns, indexed one level deeper."""
    for index, value in elements:
        results = call(index, value)
        if results is SKIP:
            continue
        try:
            for position, result in enumerate(results):
                yield (*index, position), result
        except Exception as error:  # raised while iterating what f returned
            mark_element(error, index, value)
            raise


def each_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """Call ``f(x)`` for its side effect; nothing flows on."""
    for index, value in elements:
        call(index, value)
    return
    yield  # a generator, like the others


def concat_kernel(call: Call, elements: Iterable[Element]) -> Iterable[Element]:
    """Pass every element on unchanged (the merging is done by the channel)."""
    return elements


def ordered_kernel(call: Call, elements: Iterable[Element]) -> Iterable[Element]:
    """All elements, sorted by source index (stable, so concatenated inputs stay grouped)."""
    return sorted(elements, key=itemgetter(0))


KERNELS: Final[dict[str, Kernel]] = {
    "map": map_kernel,
    "filter": filter_kernel,
    "flat_map": flat_map_kernel,
    "each": each_kernel,
    "concat": concat_kernel,
    "ordered": ordered_kernel,
}
