"""``ordered`` that streams: each item goes on as soon as every item before it is known.

Before it, the stages between the source and ``ordered`` (a chain of ``map``, ``filter`` and
``flat_map``) report what they drop, as markers in the stream: ``GONE`` at an index whose
item is gone (filtered out, skipped by a timeout or an error policy), and
``Expanded(count)`` at an index that ``flat_map`` turned into ``count`` items (indexed one
level deeper, ``0 .. count - 1``). ``Reorder`` walks the indices in source order with a
cursor: it emits what is at the cursor, passes over what is gone, descends into expansions
and climbs out of them once their last item is done. It holds only the items that came
early, so memory follows what is in flight, not the length of the stream.

>>> reorder = Reorder()
>>> reorder.add((1,), "b"), reorder.add((2, 0), "c0"), reorder.add((0,), "a")
([], [], [((0,), 'a'), ((1,), 'b'), ((2, 0), 'c0')])
>>> reorder.add((2,), Expanded(1)), reorder.add((3,), GONE), reorder.add((4,), "e")
([], [], [((4,), 'e')])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final, NoReturn

from .hooks import Call
from .kernels import KERNELS, SKIP, Element, Index, Kernel, concat_kernel


class _Gone:
    """The marker of an index whose item is gone."""

    def __repr__(self) -> str:
        return "GONE"

    def __reduce__(self) -> str:
        return "GONE"  # one object in every process


GONE: Final = _Gone()


@dataclass(frozen=True)
class Expanded:
    """The marker of an index that ``flat_map`` turned into ``count`` items."""

    count: int


#: The types of the markers (checked by type: a marker is never a user's value).
MARKER_TYPES: Final = (_Gone, Expanded)
_MARKERS: Final = frozenset(MARKER_TYPES)


class _Run:
    """Consecutive elements at top-level indices, held by ``Reorder`` as one entry."""

    __slots__ = ("elements",)

    def __init__(self, elements: list[Element]) -> None:
        self.elements = elements


class Reorder:
    """Elements of one lane (each index once) back in source order (module docstring)."""

    def __init__(self) -> None:
        self._held: dict[Index, Any] = {}  # what came before its turn (values and GONE)
        self._cursor: Index = (0,)
        self._counts: dict[Index, int] = {}  # expanded indices whose item count is known
        self._expanded: set[Index] = set()  # indices known to be expanded

    def add(self, index: Index, value: Any) -> list[Element]:
        """Take one element; return those that may go on now, in order."""
        if index == self._cursor and not self._held and len(index) == 1:
            # Its turn, and nothing waits behind it: most elements, when results finish
            # about in order. No bookkeeping beyond the cursor.
            if value.__class__ is not Expanded:
                self._cursor = (index[0] + 1,)
                return [] if value is GONE else [(index, value)]
        if value.__class__ is Expanded:
            if value.count == 0:
                self._held[index] = GONE
            else:
                self._counts[index] = value.count
                self._expanded.add(index)
        else:
            self._held[index] = value
            for depth in range(1, len(index)):  # its parents were expanded
                self._expanded.add(index[:depth])
        return self._ready()

    def add_all(self, elements: list[Element]) -> list[Element]:
        """Take a batch of elements; return those that may go on now, in order.

        A batch of items without markers at top-level indices (``map`` and ``filter``
        results, the usual case) is taken in runs of consecutive indices, each held as one
        entry when it came early: a few C-level passes over the batch and a loop over its
        indices, instead of the bookkeeping of each element.

        >>> reorder = Reorder()
        >>> reorder.add_all([((2,), "c"), ((3,), "d"), ((0,), "a")])
        [((0,), 'a')]
        >>> reorder.add_all([((1,), "b"), ((4,), "e")])
        [((1,), 'b'), ((2,), 'c'), ((3,), 'd'), ((4,), 'e')]
        """
        if not elements:
            return []
        indices = list(map(itemgetter(0), elements))
        if set(map(len, indices)) != {1} or not _MARKERS.isdisjoint(
            map(type, map(itemgetter(1), elements))
        ):
            add, ready = self.add, []
            for index, value in elements:
                ready += add(index, value)
            return ready
        ready, start, expect = [], 0, indices[0][0]
        for position, (key,) in enumerate(indices):
            if key != expect:  # a run ends here
                self._take_run(elements[start:position], ready)
                start = position
            expect = key + 1
        self._take_run(elements[start:] if start else elements, ready)
        return ready

    def _take_run(self, run: list[Element], ready: list[Element]) -> None:
        """Take ``run`` (consecutive top-level indices, no markers) into ``ready`` if its
        turn came, else hold it as one entry."""
        first = run[0][0]
        if first == self._cursor and not self._held:
            ready += run
            self._cursor = (first[0] + len(run),)
        else:
            self._held[first] = _Run(run)
            ready += self._ready()

    def finish(self) -> list[Element]:
        """The input ended: whatever is still held (nothing, unless markers were missing)."""
        rest: list[Element] = []
        for index, value in self._held.items():
            if value.__class__ is _Run:
                rest += value.elements
            elif value is not GONE:
                rest.append((index, value))
        self._held.clear()
        return sorted(rest, key=itemgetter(0))

    def _ready(self) -> list[Element]:
        ready: list[Element] = []
        held, counts = self._held, self._counts
        while True:
            cursor = self._cursor
            parent = cursor[:-1]
            count = counts.get(parent) if parent else None
            if count is not None and cursor[-1] >= count:  # the parent's last item is done
                del counts[parent]
                self._expanded.discard(parent)
                self._next_after(parent)
            elif cursor in held:
                value = held.pop(cursor)
                if value.__class__ is _Run:  # a run of top-level indices, from the cursor
                    ready += value.elements
                    self._cursor = (cursor[0] + len(value.elements),)
                    continue
                if value is not GONE:
                    ready.append((cursor, value))
                self._next_after(cursor)
            elif cursor in self._expanded:
                self._cursor = (*cursor, 0)
            else:
                return ready

    def _next_after(self, index: Index) -> None:
        self._cursor = (*index[:-1], index[-1] + 1)


def streaming_ordered_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``ordered`` over one lane whose stages report their gaps (see the module docstring)."""
    reorder = Reorder()
    add = reorder.add
    for index, value in elements:
        ready = add(index, value)
        if ready:
            yield from ready
    yield from reorder.finish()


# -- the kernels of the chain before a streaming ordered: they pass markers on and add theirs


def marked_map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``map_kernel``, with ``GONE`` for an item skipped (timeout, error policy)."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in elements:
            if value.__class__ in MARKER_TYPES:
                yield index, value
                continue
            result = fn(value, element_index=index) if wants_index else fn(value)
            yield index, (GONE if result is SKIP else result)
    except Exception as error:
        fail_labelled(call, error, index, value)


def marked_filter_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``filter_kernel``, with ``GONE`` for an item filtered out or skipped."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    counters = call.counters
    try:
        for index, value in elements:
            if value.__class__ in MARKER_TYPES:
                yield index, value
                continue
            keep = fn(value, element_index=index) if wants_index else fn(value)
            if keep is SKIP:
                yield index, GONE
            elif keep:
                yield index, value
            else:
                counters.filtered_out += 1
                yield index, GONE
    except Exception as error:
        fail_labelled(call, error, index, value)


def marked_flat_map_kernel(call: Call, elements: Iterable[Element]) -> Iterator[Element]:
    """``flat_map_kernel``, with ``Expanded(count)`` after an item's results (``GONE`` for
    an item skipped)."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in elements:
            if value.__class__ in MARKER_TYPES:
                yield index, value
                continue
            results = fn(value, element_index=index) if wants_index else fn(value)
            if results is SKIP:
                yield index, GONE
                continue
            count = 0
            for result in results:
                yield (*index, count), result
                count += 1
            yield index, Expanded(count)
    except Exception as error:
        fail_labelled(call, error, index, value)


def fail_labelled(call: Call, error: Exception, index: Index | None, value: Any) -> NoReturn:
    """Raise ``error`` labelled with the stage and element (``Call.fail``)."""
    failure = call.fail(error, index, value)
    if failure is error:
        raise error
    raise failure from error


def kernel_for(kind: str, *, marks: bool = False, streams: bool = False) -> Kernel:
    """The kernel of a stage of ``kind``: one that reports what it drops when it feeds a
    streaming ``ordered`` (``marks``), the streaming ``ordered`` itself (``streams``)."""
    if streams:
        return streaming_ordered_kernel
    return (MARKED_KERNELS if marks else KERNELS)[kind]


#: The kernels of the stages that feed a streaming ``ordered`` (``Node.marks``).
MARKED_KERNELS: Final[dict[str, Kernel]] = {
    "map": marked_map_kernel,
    "filter": marked_filter_kernel,
    "flat_map": marked_flat_map_kernel,
    "concat": concat_kernel,
}
