"""``key=``: items with equal keys all go to one worker of the stage, in arrival order, so
per-key state kept in a worker's ``on_start`` resources is safe."""

from __future__ import annotations

import itertools
from collections import defaultdict
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl

KEYS = 5


def tagged(x: int, worker_info: pl.WorkerInfo) -> tuple[int, int]:
    return x, worker_info.index


@pytest.mark.parametrize("maxsize", [0, 2])
def test_equal_keys_meet_one_worker_in_arrival_order(backend: ModuleType, maxsize: int) -> None:
    xs = list(range(300))
    stage = backend.map(tagged, xs, workers=3, maxsize=maxsize, key=lambda x: x % KEYS)
    workers_of: dict[int, set[int]] = defaultdict(set)
    items_of: dict[int, list[int]] = defaultdict(list)
    results = list(stage)
    for x, worker in results:
        workers_of[x % KEYS].add(worker)
        items_of[x % KEYS].append(x)
    assert sorted(x for x, _ in results) == xs
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of
    assert all(items == sorted(items) for items in items_of.values())  # the source's order
    if backend.backend.concurrent_workers:  # the keys are spread over the workers
        assert len(set().union(*workers_of.values())) > 1


def test_per_key_state_in_on_start_resources(backend: ModuleType) -> None:
    # A running total per user, kept by each worker for the users it is given: right only
    # if every item of a user reaches the same worker, in order.
    def start() -> dict[str, Any]:
        return {"totals": defaultdict(int)}

    def add(item: tuple[str, int], totals: dict[str, int]) -> tuple[str, int, int]:
        user, amount = item
        totals[user] += amount
        return user, amount, totals[user]

    items = [(f"user{i % 7}", i) for i in range(140)]
    stage = backend.map(add, items, workers=3, on_start=start, key=lambda item: item[0])
    expected: dict[str, int] = defaultdict(int)
    running = {}
    for user, amount in items:
        expected[user] += amount
        running[user, amount] = expected[user]
    assert sorted(stage) == sorted((user, amount, running[user, amount]) for user, amount in items)


@pytest.mark.parametrize("name", ["flat_map", "filter", "each"])
def test_every_stage_function_takes_a_key(backend: ModuleType, name: str) -> None:
    seen: list[tuple[int, int]] = []

    def note(x: int, worker_info: pl.WorkerInfo) -> Any:
        if name == "each":
            return None
        return [(x, worker_info.index)] if name == "flat_map" else x % 2 == 0

    stage = getattr(backend, name)(note, range(40), workers=2, key=lambda x: x % 4)
    if name == "flat_map":
        seen = list(stage)
        assert sorted(x for x, _ in seen) == list(range(40))
        assert all(len({w for x, w in seen if x % 4 == k}) == 1 for k in range(4))
    elif name == "filter":
        assert sorted(stage) == list(range(0, 40, 2))
    else:
        assert list(stage) == []


def test_a_key_that_raises_fails_the_run_naming_the_stage_and_item(backend: ModuleType) -> None:
    def user_of(x: int) -> int:
        if x == 17:
            raise LookupError("no user for 17")
        return x % 3

    stage = backend.map(abs, range(40), workers=2, key=user_of)
    with pytest.raises(LookupError, match="no user for 17") as caught:
        list(stage)
    assert "stage 'map(abs) key=user_of' failed on element (17,): 17" in caught.value.__notes__[0]


def test_an_unhashable_key_fails_the_run_naming_the_stage_and_item(backend: ModuleType) -> None:
    stage = backend.map(abs, [[1, 2], [3]], workers=2, key=lambda pair: pair)
    with pytest.raises(TypeError, match=r"key=<lambda>: the key \[1, 2\] of item \[1, 2\] cannot"):
        list(stage)


def test_a_keyed_stage_streams_into_ordered(backend: ModuleType) -> None:
    stage = backend.map(lambda x: x * 2, itertools.count(), workers=3, maxsize=4, key=str)
    stage = backend.filter(lambda x: x % 3 != 0, stage, workers=2, maxsize=4, key=str)
    run = backend.to_iterable(backend.ordered(stage))
    try:
        first = list(itertools.islice(run, 30))
    finally:
        run.close()
    assert first == [x * 2 for x in range(60) if x * 2 % 3 != 0][:30]


def test_equal_keys_wait_for_each_other_and_other_keys_do_not(
    backend: ModuleType, shared: Any
) -> None:
    # Key 0's first item holds its worker until key 1's item ran: only a second worker, given
    # key 1, lets it go on. Key 0's second item then runs after its first, on the same worker.
    if not backend.backend.concurrent_workers:
        pytest.skip("one call at a time")
    ran_one = shared.event()
    order = shared.list()

    def work(x: int) -> int:
        if x == 0:
            assert ran_one.wait(30), "key 1 waited behind key 0"
        if x == 1:
            ran_one.set()
        order.append(x)
        return x

    items = [0, 1, 2]  # keys 0, 1, 0 (2 % 2)
    assert sorted(backend.map(work, items, workers=2, key=lambda x: x % 2)) == items
    assert list(order).index(0) < list(order).index(2)
