"""``Reorder`` puts one lane back in source order, whatever order and batches its elements
come in: the consumer of a run whose last stage is a streaming ``ordered`` relies on it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pypeln._worker.kernels import Element
from pypeln._worker.order import GONE, Expanded, Reorder

# Per source item: kept (-1), gone (-2), or expanded into that many items (0..3).
fates = st.lists(st.sampled_from([-1, -1, -1, -2, 0, 1, 2, 3]), max_size=40)


def lane(items: list[int]) -> tuple[list[Element], list[Element]]:
    """The elements a marked lane delivers for ``items`` (each a fate), and the ordered
    output expected of them."""
    elements: list[Element] = []
    expected: list[Element] = []
    for position, fate in enumerate(items):
        index = (position,)
        if fate == -1:
            elements.append((index, position))
            expected.append((index, position))
        elif fate == -2:
            elements.append((index, GONE))
        else:
            inner = [((position, k), f"{position}.{k}") for k in range(fate)]
            elements += [*inner, (index, Expanded(fate))]
            expected += inner
    return elements, expected


@settings(deadline=None, max_examples=300)
@given(fates, st.data())
def test_any_arrival_order_and_batching_gives_source_order(items: list[int], data: Any) -> None:
    elements, expected = lane(items)
    arrival = data.draw(st.permutations(elements))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(arrival)), max_size=8)))
    batches = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]
    reorder, got = Reorder(), []
    for batch in batches:
        if data.draw(st.booleans()):
            got += reorder.add_all(batch)
        else:
            for index, value in batch:
                got += reorder.add(index, value)
    got += reorder.finish()
    assert got == expected


@settings(deadline=None, max_examples=200)
@given(st.integers(1, 300), st.integers(1, 8), st.randoms(use_true_random=False))
def test_runs_of_several_workers_interleaved(n: int, workers: int, rng: Any) -> None:
    """Workers finish contiguous chunks out of order; a consumer's batch holds pieces of
    several of them (the case ``add_all`` takes in runs)."""
    chunks = [[((i,), i) for i in range(start, min(n, start + 7))] for start in range(0, n, 7)]
    rng.shuffle(chunks)
    stream = [element for chunk in chunks for element in chunk]
    reorder, got = Reorder(), []
    step = max(1, n // workers)
    for start in range(0, n, step):
        got += reorder.add_all(stream[start : start + step])
    assert got == [((i,), i) for i in range(n)]
    assert reorder.finish() == []
