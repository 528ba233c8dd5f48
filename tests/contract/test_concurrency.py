"""workers=n runs n calls at once; maxsize bounds what waits; an idle pipeline burns no CPU."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.shared import Shared


@pytest.mark.parametrize("workers", [2, 5, 20])
def test_workers_run_calls_at_the_same_time(
    concurrent_backend: ModuleType, manager: Any, workers: int
) -> None:
    # Every call waits until `workers` calls are inside f at once: fewer would break the barrier.
    # The wait is long because the barrier only meets once every worker is up, and 20 Ray
    # actors start a few at a time (about 7 s on an idle 2-core machine, more under load).
    shared = Shared(manager if not concurrent_backend.backend.shares_memory else None)
    barrier = shared.barrier(workers, timeout=45)

    def meet(x: int) -> int:
        barrier.wait()
        return x

    assert sorted(concurrent_backend.map(meet, range(workers * 3), workers=workers)) == list(
        range(workers * 3)
    )


def test_sync_runs_one_call_at_a_time() -> None:
    import pypeln as pl

    inside = 0
    most = 0

    def track(x: int) -> int:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        inside -= 1
        return x

    list(pl.sync.map(track, range(50), workers=8))
    assert most == 1


@pytest.mark.parametrize(("maxsize", "workers"), [(1, 1), (4, 2), (10, 3)])
def test_maxsize_bounds_items_waiting_for_a_stalled_consumer(
    backend: ModuleType, maxsize: int, workers: int
) -> None:
    produced = 0
    consumed = 0
    stages = 2
    # Per stage: its queue, plus the batch its workers hold (their share of maxsize); the
    # source's batch and the consumer's queue and batch are bounded by maxsize too.
    bound = stages * (2 * maxsize + workers) + 3 * maxsize
    over_bound = threading.Event()

    def source() -> Iterator[int]:
        nonlocal produced
        for x in range(100_000):
            produced += 1
            if produced - consumed > bound:
                over_bound.set()
            yield x

    stage = backend.map(lambda x: x, source(), workers=workers, maxsize=maxsize)
    stage = backend.map(lambda x: x, stage, workers=workers, maxsize=maxsize)
    iterator = iter(stage)
    for _ in range(3):
        next(iterator)
        consumed += 1
    # The consumer stalls: an unbounded pipeline would race past the bound at once.
    assert not over_bound.wait(timeout=0.5), f"{produced - consumed} items in flight > {bound}"
    iterator.close()  # type: ignore[attr-defined]


def test_idle_pipeline_uses_no_cpu(backend: ModuleType, shared: Shared) -> None:
    entered = shared.event()
    release = shared.event()

    def wait_for_release(x: int) -> int:
        entered.set()
        release.wait(timeout=10)
        return x

    stage = backend.map(wait_for_release, range(2), workers=2, maxsize=1)
    stage = backend.map(lambda x: x, stage, workers=3, maxsize=1)
    consumer = threading.Thread(target=lambda: list(stage))
    consumer.start()
    assert entered.wait(timeout=10)
    cpu_before = time.process_time()
    release.wait(timeout=0.5)  # the pipeline sits idle, every worker blocked
    cpu_used = time.process_time() - cpu_before
    release.set()
    consumer.join(timeout=10)
    assert cpu_used < 0.1, f"an idle pipeline used {cpu_used:.3f}s of CPU in 0.5s"


def test_first_item_does_not_wait_for_a_batch(backend: ModuleType) -> None:
    release = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        release.wait(timeout=10)  # the rest comes only after the consumer saw the first item
        yield 2

    iterator = iter(backend.map(lambda x: x * 10, source(), workers=2))
    assert next(iterator) == 10
    release.set()
    assert list(iterator) == [20]


def test_flat_map_hands_on_each_item_as_a_slow_generator_yields_it(
    backend: ModuleType, shared: Shared
) -> None:
    steps = [shared.event() for _ in range(4)]

    def slowly(x: int) -> Iterator[int]:
        yield from range(200)  # a fast start lets the output batch size grow ...
        for step in steps:  # ... then each item comes only after the consumer saw the last
            assert step.wait(timeout=10), "an item was held back while its generator waited"
            yield -1

    iterator = iter(backend.flat_map(slowly, [0], workers=2))
    assert [next(iterator) for _ in range(200)] == list(range(200))
    for step in steps:
        step.set()
        assert next(iterator) == -1
    assert list(iterator) == []


def test_a_source_that_turns_slow_hands_on_what_it_read(backend: ModuleType) -> None:
    steps = [threading.Event() for _ in range(3)]

    def source() -> Iterator[int]:
        yield from range(300)  # a fast burst lets the batch size grow ...
        for step in steps:  # ... then each item comes only after the consumer saw the last
            assert step.wait(timeout=10), "an item was held back while its source waited"
            yield -1

    iterator = iter(backend.map(lambda x: x, source(), workers=2))
    assert sorted(next(iterator) for _ in range(300)) == list(range(300))
    for step in steps:
        step.set()
        assert next(iterator) == -1
    assert list(iterator) == []


def test_fan_out_hands_on_an_item_while_the_next_one_is_slow(
    backend: ModuleType, shared: Shared
) -> None:
    seen_last = shared.event()

    def slow_after(x: int) -> int:
        if x == 200:
            assert seen_last.wait(timeout=10), "item 199 was held back behind item 200"
        return x

    shared = backend.map(slow_after, range(201))
    merged = backend.concat([backend.map(lambda x: x, shared), backend.filter(bool, shared)])
    taken = 0
    for item in merged:
        taken += 1
        if item == 199:
            seen_last.set()
    assert taken == 201 + 200
