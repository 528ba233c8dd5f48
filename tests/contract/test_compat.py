"""pypeln 0.4 programs run unchanged: its call forms work on every backend."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import pytest

from tests.shared import Shared


def double(x: int) -> int:
    return 2 * x


def twice(x: int) -> list[int]:
    return [x, x]


def odd(x: int) -> bool:
    return x % 2 == 1


def test_stage_by_keyword(backend: ModuleType, shared: Shared) -> None:
    assert sorted(backend.map(double, stage=[1, 2])) == [2, 4]
    assert sorted(backend.flat_map(twice, stage=[1])) == [1, 1]
    assert sorted(backend.filter(odd, stage=range(4))) == [1, 3]
    seen = shared.list()
    assert backend.each(seen.append, stage=[5], run=True) is None
    assert list(seen) == [5]
    assert list(backend.ordered(stage=backend.map(double, [3, 1]))) == [6, 2]
    assert sorted(backend.to_iterable(stage=backend.map(double, [1]))) == [2]
    assert list(backend.from_iterable(iterable=[1, 2])) == [1, 2]


def test_options_by_position(backend: ModuleType, shared: Shared) -> None:
    stage = backend.map(double, range(6), 3, 2, 5)  # workers, maxsize, timeout
    assert (stage.workers, stage.maxsize, stage.timeout) == (3, 2, 5)
    assert sorted(stage) == [0, 2, 4, 6, 8, 10]
    seen = shared.list()
    assert backend.each(seen.append, [1, 2], 1, 0, 0, None, None, True) is None  # run=True
    assert sorted(seen) == [1, 2]
    run = backend.to_iterable(backend.map(double, [4]), 1, True)  # maxsize, return_index
    assert list(run) == [((0,), 8)]
    assert list(backend.ordered(backend.map(double, [2, 1], 2), 1)) == [4, 2]
    assert list(backend.from_iterable([7], False, 1)) == [7]


def test_the_partial_forms_take_049_options(backend: ModuleType) -> None:
    assert sorted([1, 2] | backend.map(double, workers=2)) == [2, 4]
    assert list(backend.map(double, [2, 1]) | backend.ordered(maxsize=1)) == [4, 2]
    assert list([3] | backend.from_iterable(use_thread=False, maxsize=2)) == [3]


def test_use_thread_changes_nothing_and_must_be_a_bool(backend: ModuleType) -> None:
    for use_thread in (True, False):
        assert sorted(backend.map(double, backend.from_iterable(range(3), use_thread))) == [0, 2, 4]
    with pytest.raises(TypeError, match=r"^from_iterable\(\): use_thread must be a bool, got str"):
        backend.from_iterable([1], use_thread="no")


def test_ordered_checks_its_maxsize(backend: ModuleType) -> None:
    with pytest.raises(
        ValueError, match=r"^ordered\(\): maxsize must be an int >= 0 or None, got -1"
    ):
        backend.ordered([1], maxsize=-1)
    with pytest.raises(
        ValueError, match=r"^ordered\(\): maxsize must be an int >= 0 or None, got -2"
    ):
        backend.ordered(maxsize=-2)


def test_to_async_iterable(backend: ModuleType) -> None:
    async def consume() -> tuple[list[Any], dict[str, int]]:
        run = backend.to_async_iterable(backend.filter(odd, range(5)))
        return sorted([x async for x in run]), run.filtered_out()

    assert asyncio.run(consume()) == ([1, 3], {"filter(odd)": 3})

    async def indexed() -> list[Any]:
        return [x async for x in [7] | backend.to_async_iterable(return_index=True)]

    assert asyncio.run(indexed()) == [((0,), 7)]


def worker_index(x: int, worker_info: Any) -> Any:
    return worker_info


def test_worker_info_is_the_namespace_s(backend: ModuleType) -> None:
    (info,) = list(backend.map(worker_index, [1]))
    assert isinstance(info, backend.WorkerInfo) and info.index == 0
