"""``ordered`` streams: each item goes on once every item before it came or is known gone,
so it works on an infinite source and never waits for the end of the input."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared


def first(run: Any, count: int) -> list[Any]:
    """The first ``count`` items of ``run``; then the run is closed."""
    try:
        return list(itertools.islice(run, count))
    finally:
        run.close()


def test_ordered_over_an_infinite_source(backend: ModuleType) -> None:
    stage = backend.map(lambda x: x * 2, itertools.count(), workers=3, maxsize=4)
    assert first(backend.to_iterable(backend.ordered(stage)), 30) == list(range(0, 60, 2))


def test_gaps_of_every_kind_are_passed_over(backend: ModuleType) -> None:
    def parse(x: int) -> int:
        if x % 7 == 3:
            raise ValueError(x)
        return x

    stage = backend.map(parse, itertools.count(), workers=2, maxsize=4, on_error="skip")
    stage = backend.filter(lambda x: x % 3 != 0, stage, workers=2, maxsize=4)
    stage = backend.flat_map(lambda x: [x] * (x % 4), stage, workers=3, maxsize=4)
    expected = [y for x in range(200) if x % 7 != 3 and x % 3 != 0 for y in [x] * (x % 4)]
    got = first(backend.to_iterable(backend.ordered(stage)), 40)
    assert got == expected[:40]


def test_an_item_goes_on_before_later_ones_are_done(backend: ModuleType, shared: Shared) -> None:
    if not backend.backend.concurrent_workers:
        pytest.skip("sync runs one call at a time, in order: nothing is later than the first")
    zero_seen = shared.event()  # item 5's call waits for the consumer to get item 0

    def waits_on_five(x: int) -> int:
        if x == 5:
            assert zero_seen.wait(timeout=30), "item 0 was held back until the end"
        return x

    run = backend.to_iterable(backend.map(waits_on_five, range(8), workers=3, ordered=True))
    items = iter(run)
    assert next(items) == 0
    zero_seen.set()
    assert list(items) == list(range(1, 8))


def test_an_item_skipped_by_its_timeout_is_passed_over(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()

    def stuck_on_two(x: int) -> int:
        if x == 2:
            release.wait(timeout=1.5)  # over the timeout; released when the test ends
        return x

    stage = backend.map(stuck_on_two, itertools.count(), workers=2, timeout=0.3, maxsize=2)
    try:
        assert first(backend.to_iterable(backend.ordered(stage)), 5) == [0, 1, 3, 4, 5]
    finally:
        release.set()


@pytest.mark.parametrize("name", ["map", "flat_map", "filter"])
def test_ordered_true_keeps_input_order(backend: ModuleType, name: str) -> None:
    functions = {"map": lambda x: x * 3, "flat_map": lambda x: [x, -x], "filter": bool}
    expected = {
        "map": [x * 3 for x in range(40)],
        "flat_map": [y for x in range(40) for y in (x, -x)],
        "filter": list(range(1, 40)),
    }
    stage = getattr(backend, name)(functions[name], range(40), workers=4, ordered=True)
    assert list(stage) == expected[name]
    assert (
        list(range(40) | getattr(backend, name)(functions[name], ordered=True)) == (expected[name])
    )


def test_ordered_after_concat_still_sorts_by_index(backend: ModuleType) -> None:
    # Both sources number their items from 0: items of one position come together, in the
    # order they arrived.
    merged = backend.concat([backend.map(abs, [-1, -2, -3], workers=2), [10, 20]])
    result = list(backend.ordered(merged))
    assert sorted(result[:2]) == [1, 10] and sorted(result[2:4]) == [2, 20] and result[4] == 3


def test_flat_map_into_nothing_at_the_start(backend: ModuleType) -> None:
    def expand(x: int) -> Iterator[int]:
        yield from range(x % 3)

    stage = backend.flat_map(expand, itertools.count(), workers=2, maxsize=4)
    stage = backend.flat_map(lambda x: [x] * x, stage, workers=2, maxsize=4)
    expected = [z for x in range(100) for y in range(x % 3) for z in [y] * y]
    assert first(backend.to_iterable(backend.ordered(stage)), 25) == expected[:25]


def test_the_stage_of_ordered_true_is_named_after_it(backend: ModuleType) -> None:
    def fails(x: int) -> int:
        raise KeyError(x)

    with pytest.raises(KeyError) as caught:
        list(backend.map(fails, [1], ordered=True))
    assert "map(fails)" in "\n".join(caught.value.__notes__)
    assert pl.Stage is type(backend.map(abs, [1], ordered=True))
