"""``batch``: lists of ``size`` consecutive items; with a ``timeout``, a shorter list goes on
once its first item has waited that long."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import ModuleType

import pytest


def test_lists_of_size_items_in_arrival_order(backend: ModuleType) -> None:
    assert list(backend.batch(3, range(10))) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(backend.batch(4, [])) == []
    assert list(backend.batch(2, range(4))) == [[0, 1], [2, 3]]


def test_the_partial_form_and_unbatching(backend: ModuleType) -> None:
    batches = range(7) | backend.batch(2)
    assert list(batches) == [[0, 1], [2, 3], [4, 5], [6]]
    flat = backend.flat_map(lambda batch: batch, backend.batch(3, range(7)))
    assert sorted(flat) == list(range(7))


def test_batches_of_a_stage_with_workers(backend: ModuleType) -> None:
    batches = list(backend.batch(5, backend.map(abs, range(23), workers=3), maxsize=2))
    assert sorted(x for batch in batches for x in batch) == list(range(23))
    assert sorted(len(batch) for batch in batches) == [3, 5, 5, 5, 5]


def test_a_batched_inference_stage(backend: ModuleType) -> None:
    def predict(batch: list[int]) -> list[int]:  # one call for many items
        return [x * 10 for x in batch]

    stage = backend.flat_map(predict, backend.batch(4, range(10)), workers=2)
    assert sorted(stage) == [x * 10 for x in range(10)]


def test_a_timeout_lets_a_short_batch_go_while_the_source_waits(backend: ModuleType) -> None:
    if not backend.backend.concurrent_workers:
        pytest.skip("on sync the consumer's own thread reads the source: nothing runs beside")
    seen_first = threading.Event()  # the source stays stuck until the consumer got [0, 1]

    def stalls_after_two() -> Iterator[int]:
        yield 0
        yield 1
        assert seen_first.wait(timeout=30), "the first batch never came"
        yield 2
        yield 3

    run = backend.to_iterable(backend.batch(10, stalls_after_two(), timeout=0.05))
    first = next(iter(run))
    seen_first.set()
    assert first == [0, 1]
    assert list(run) == [[2, 3]]


def test_a_wait_on_sync_is_checked_as_items_come(backend: ModuleType) -> None:
    if backend.backend.concurrent_workers:
        pytest.skip("sync only")
    late = threading.Event()

    def pauses() -> Iterator[int]:
        yield 0
        late.wait(timeout=0.2)  # longer than the timeout: 0 goes on alone
        yield 1

    assert list(backend.batch(5, pauses(), timeout=0.05)) == [[0], [1]]
