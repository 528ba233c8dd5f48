"""Results equal the builtins; laziness, re-iteration, pipes and mixed backends."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared


def inc(x: int) -> int:
    return x + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def repeat(x: int) -> list[int]:
    return [x] * (x % 3)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("maxsize", [0, 1, 5])
def test_map_filter_flat_map_equal_comprehensions(
    backend: ModuleType, workers: int, maxsize: int
) -> None:
    data = list(range(200))
    options = {"workers": workers, "maxsize": maxsize}
    assert Counter(backend.map(inc, data, **options)) == Counter(inc(x) for x in data)
    assert Counter(backend.filter(is_even, data, **options)) == Counter(filter(is_even, data))
    expected = Counter(y for x in data for y in repeat(x))
    assert Counter(backend.flat_map(repeat, data, **options)) == expected


def test_flat_map_accepts_generator_functions(backend: ModuleType) -> None:
    def pairs(x: int):  # type: ignore[no-untyped-def]
        yield x
        yield -x

    assert sorted(backend.flat_map(pairs, [1, 2], workers=2)) == [-2, -1, 1, 2]


def test_ordered_restores_input_order_through_expansion(backend: ModuleType) -> None:
    stage = backend.flat_map(repeat, range(50), workers=4, maxsize=2)
    stage = backend.map(inc, stage, workers=3)
    assert list(backend.ordered(stage)) == [inc(y) for x in range(50) for y in repeat(x)]


def test_filtered_out_items_are_counted(backend: ModuleType) -> None:
    run = backend.to_iterable(backend.filter(is_even, range(101), workers=3))
    assert len(list(run)) == 51
    assert run.filtered_out() == {"filter(is_even)": 50}
    seen: list[int] = []
    run = backend.to_iterable(backend.map(inc, backend.each(seen.append, range(5))))
    assert list(run) == [] and run.filtered_out() == {}  # each drops nothing the user wanted


def test_sync_keeps_input_order_without_ordered() -> None:
    stage = pl.sync.filter(is_even, pl.sync.map(inc, range(20)))
    assert list(stage) == [x for x in map(inc, range(20)) if is_even(x)]


def test_each_yields_nothing_and_run_consumes(backend: ModuleType, shared: Shared) -> None:
    seen = shared.list()
    stage = backend.each(seen.append, range(10), workers=2)
    assert list(stage) == []
    assert sorted(seen) == list(range(10))
    del seen[:]
    assert backend.each(seen.append, range(5), run=True) is None
    assert sorted(seen) == list(range(5))
    del seen[:]
    assert (range(3) | backend.each(seen.append, workers=2, run=True)) is None
    assert sorted(seen) == list(range(3))


def test_concat_merges_every_item_of_every_source(backend: ModuleType) -> None:
    left = backend.map(inc, range(30), workers=2)
    merged = backend.concat([left, range(100, 110), []], maxsize=3)
    assert Counter(merged) == Counter([*range(1, 31), *range(100, 110)])


def test_fan_out_and_merge_delivers_every_item_once_per_branch(backend: ModuleType) -> None:
    shared = backend.map(inc, range(40), workers=2, maxsize=2)
    doubled = backend.map(lambda x: 2 * x, shared, workers=2)
    negated = backend.map(lambda x: -x, shared)
    result = Counter(backend.concat([doubled, negated]))
    assert result == Counter([2 * inc(x) for x in range(40)] + [-inc(x) for x in range(40)])


def test_pipes_and_partials(backend: ModuleType) -> None:
    result = (
        range(10)
        | backend.map(inc, workers=2)
        | backend.filter(is_even)
        | backend.flat_map(lambda x: [x, x])
        | backend.ordered()
        | list
    )
    assert result == [x for x in range(1, 11) if x % 2 == 0 for _ in range(2)]
    assert backend.map(inc)(range(3)) | sorted == [1, 2, 3]


def test_from_iterable_to_iterable_and_indices(backend: ModuleType) -> None:
    stage = backend.from_iterable("abc", maxsize=1)
    pairs = sorted(backend.to_iterable(backend.map(str.upper, stage), return_index=True))
    assert pairs == [((0,), "A"), ((1,), "B"), ((2,), "C")]
    assert sorted(backend.to_iterable(stage, maxsize=2)) == ["a", "b", "c"]
    assert sorted("xy" | backend.to_iterable(maxsize=1)) == ["x", "y"]
    assert sorted("xy" | backend.to_iterable(return_index=True)) == [((0,), "x"), ((1,), "y")]


def test_an_indexed_item_names_its_index_and_value(backend: ModuleType) -> None:
    # As pypeln 0.4.9's Element: a pair that also names its parts.
    run = backend.to_iterable(backend.flat_map(lambda x: [x, x], "ab"), return_index=True)
    elements = sorted(run)
    assert [(element.index, element.value) for element in elements] == [
        ((0, 0), "a"),
        ((0, 1), "a"),
        ((1, 0), "b"),
        ((1, 1), "b"),
    ]
    assert all(isinstance(element, pl.Element) for element in elements)


def test_run_takes_several_stages(backend: ModuleType, shared: Shared) -> None:
    seen = shared.list()
    backend.run(backend.map(seen.append, range(3)), backend.map(seen.append, range(3, 5)))
    backend.run([backend.map(seen.append, range(5, 6))])
    assert sorted(seen) == list(range(6))


def test_nothing_runs_before_iteration_and_iterating_again_reruns(
    backend: ModuleType, shared: Shared
) -> None:
    calls = shared.list()

    def record(x: int) -> int:
        calls.append(x)
        return x

    stage = backend.map(record, range(4), workers=2)
    assert len(calls) == 0
    assert sorted(stage) == [0, 1, 2, 3]
    assert sorted(stage) == [0, 1, 2, 3]
    assert sorted(calls) == sorted([0, 1, 2, 3] * 2)


def test_stages_of_different_backends_chain(backend: ModuleType) -> None:
    other = pl.thread if backend is pl.sync else pl.sync
    upstream = other.map(inc, range(20), workers=2)
    downstream = backend.filter(is_even, upstream, workers=2)
    assert sorted(downstream) == [x for x in range(1, 21) if is_even(x)]
    assert list(backend.ordered(downstream)) == [x for x in range(1, 21) if is_even(x)]
    assert sorted(other.map(inc, downstream)) == [x + 1 for x in range(1, 21) if is_even(x)]


def test_strings_and_generators_are_sources(backend: ModuleType) -> None:
    assert sorted(backend.map(str.upper, "xy")) == ["X", "Y"]
    assert sorted(backend.map(inc, (x for x in range(3)))) == [1, 2, 3]


@pytest.mark.parametrize(("workers", "maxsize"), [(1, 0), (2, 0), (1, 1000), (3, 7)])
def test_long_streams_lose_and_duplicate_nothing(
    backend: ModuleType, workers: int, maxsize: int
) -> None:
    # Long enough for batches to grow, readers to take from producers, queues to fill; on a
    # cluster, where a call costs a millisecond (a few items each under maxsize=7), shorter.
    data = range(4_000 if backend.backend.joins_cluster else 60_000)
    options = {"workers": workers, "maxsize": maxsize}
    stage = backend.map(inc, data, **options)
    stage = backend.filter(is_even, stage, **options)
    stage = backend.flat_map(lambda x: [x, -x], stage, **options)
    assert Counter(stage) == Counter(y for x in data if is_even(x + 1) for y in (x + 1, -x - 1))


def test_fan_out_of_a_one_shot_source_runs_it_once(backend: ModuleType, shared: Shared) -> None:
    calls = shared.list()

    def record(x: int) -> int:
        calls.append(x)
        return x

    shared = backend.map(record, (x for x in range(30)), maxsize=2)  # a generator: one pass
    merged = backend.concat([backend.map(lambda x: ("a", x), shared), backend.filter(bool, shared)])
    result = Counter(merged)
    assert result == Counter([("a", x) for x in range(30)] + list(range(1, 30)))
    assert sorted(calls) == list(range(30))  # the shared stage ran once, for both branches


def test_a_one_shot_source_read_by_a_second_run_warns(backend: ModuleType) -> None:
    def numbers() -> Iterator[int]:
        yield from range(3)

    stage = backend.map(inc, numbers())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first run reads it whole: nothing to say
        assert sorted(stage) == [1, 2, 3]
    message = (
        r"^map\(inc\) reads an iterator \(generator\) that an earlier run already read: this "
        r"run gets only what that run left of it \(usually nothing\)\. .*pass a list"
    )
    with pytest.warns(pl.OneShotSourceWarning, match=message):
        assert list(stage) == []
    with pytest.warns(
        pl.OneShotSourceWarning, match=r"^map\(inc\) reads an iterator \(generator\)"
    ):
        assert list(backend.to_iterable(backend.filter(is_even, stage))) == []

    async def letters() -> AsyncIterator[str]:
        yield "a"

    stage = backend.map(str.upper, letters())
    assert list(stage) == ["A"]
    with pytest.warns(
        pl.OneShotSourceWarning, match=r"^map\(str.upper\) reads an iterator \(async_generator\)"
    ):
        assert list(stage) == []

    with warnings.catch_warnings():  # collections are read whole by every run
        warnings.simplefilter("error")
        stage = backend.map(inc, [1, 2])
        assert sorted(stage) == sorted(stage) == [2, 3]
        shared = backend.map(inc, iter(range(5)))  # one run reads it through two stages
        assert sorted(backend.concat([shared, backend.filter(is_even, shared)])) == sorted(
            [1, 2, 3, 4, 5, 2, 4]
        )


def test_an_async_iterable_is_a_source_too(backend: ModuleType) -> None:
    async def numbers() -> AsyncIterator[int]:
        for x in range(30):
            await asyncio.sleep(0)
            yield -x

    assert sorted(backend.map(abs, numbers(), workers=2, maxsize=2)) == list(range(30))
    assert list(backend.ordered(backend.filter(bool, numbers()))) == [-x for x in range(1, 30)]


def bump_in_place(array: Any) -> Any:
    array += 1  # the stage owns what it received: changing it is allowed
    return array


def test_large_buffers_pass_through_intact_and_stay_the_callers(backend: ModuleType) -> None:
    """Arrays, bytes, bytearrays and memoryviews of any size come out equal and usable (on
    ``pl.process`` the large ones travel through shared memory; see test_shared_buffers)."""
    import numpy as np

    sizes = [10, 70_000, 1_100_000]
    arrays = [np.full(size, index, dtype=np.uint8) for index, size in enumerate(sizes)]
    stage = backend.map(bump_in_place, [array.copy() for array in arrays], workers=2)
    results = sorted(backend.map(lambda a: a, stage), key=len)
    for result, array in zip(results, arrays, strict=True):
        assert result.dtype == np.uint8 and np.array_equal(result, array + 1)
        result[:] = 0  # the caller's to change
    others: list[Any] = [bytes(70_000), bytearray(b"x" * 1_100_000), memoryview(b"y" * 70_000)]
    back = sorted(backend.map(lambda value: value, others), key=lambda value: type(value).__name__)
    assert [type(value) for value in back] == [bytearray, bytes, memoryview]
    assert [bytes(value) for value in back] == [bytes(others[1]), others[0], bytes(others[2])]
