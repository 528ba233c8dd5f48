"""Stopping early, by any means, ends every worker of the run; nothing leaks across runs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest

from tests.shared import Shared


def pipeline(backend: ModuleType, size: int = 10_000) -> object:
    stage = backend.map(lambda x: x + 1, range(size), workers=3, maxsize=2)
    return backend.filter(lambda x: x % 2 == 0, stage, workers=2, maxsize=2)


def stop_by_break(stage: object) -> None:
    for _ in stage:  # type: ignore[attr-defined]
        break


def stop_by_exception_in_loop(stage: object) -> None:
    with pytest.raises(ZeroDivisionError):
        for _ in stage:  # type: ignore[attr-defined]
            1 / 0  # noqa: B018


def stop_by_close(stage: object) -> None:
    iterator = iter(stage)  # type: ignore[call-overload]
    next(iterator)
    iterator.close()


def stop_by_dropping(stage: object) -> None:
    iterator = iter(stage)  # type: ignore[call-overload]
    next(iterator)
    del iterator
    gc.collect()


STOPS: list[Callable[[object], None]] = [
    stop_by_break,
    stop_by_exception_in_loop,
    stop_by_close,
    stop_by_dropping,
]


@pytest.mark.parametrize("stop", STOPS, ids=lambda stop: stop.__name__)
def test_early_stop_ends_every_worker(backend: ModuleType, stop: Callable[[object], None]) -> None:
    before = threading.active_count()
    stop(pipeline(backend))
    assert threading.active_count() == before  # close() joins the run's threads itself


def test_early_stop_runs_on_done_of_every_started_worker(
    backend: ModuleType, shared: Shared
) -> None:
    finished = shared.list()

    def on_done(worker_info: object) -> None:
        finished.append(worker_info.index)  # type: ignore[attr-defined]

    workers = 2
    stage = backend.map(lambda x: x, range(1000), workers=workers, maxsize=1, on_done=on_done)
    stop_by_break(stage)
    assert sorted(finished) == list(range(workers if backend.backend.concurrent_workers else 1))


def test_early_stop_does_not_wait_for_a_call_with_a_long_timeout(
    backend: ModuleType, shared: Shared
) -> None:
    release = shared.event()
    finished = shared.event()

    def blocks_after_first(x: int) -> int:
        if x > 0:
            release.wait(timeout=10)
        return x

    stage = backend.map(
        blocks_after_first, range(5), timeout=30, maxsize=1, on_done=lambda: finished.set()
    )
    try:
        for _ in stage:
            break  # the worker is stuck in a call with 30 s left on its clock
        assert finished.is_set()  # the run let go of that call and finished the worker
    finally:
        release.set()


@pytest.mark.timeout(150)  # ~20 s alone; make test runs two sessions side by side
def test_a_thousand_early_stops_leak_no_thread(backend: ModuleType) -> None:
    before = threading.active_count()
    # Starting processes costs ~0.1 s under pytest: tests/backends/process/test_process.py
    # runs the thousand process runs with the fork start method and checks for zombies too.
    # Starting actors on a cluster costs about a second.
    rounds = 1000 if backend.backend.shares_memory else 10 if backend.backend.joins_cluster else 40
    for round_ in range(rounds):
        STOPS[round_ % len(STOPS) if round_ % len(STOPS) != 1 else 0](pipeline(backend, 50))
    assert threading.active_count() == before


def test_early_stop_with_an_endless_source(backend: ModuleType) -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    taken = []
    for item in backend.map(lambda x: x * 2, endless(), workers=2, maxsize=4):
        taken.append(item)
        if len(taken) == 5:
            break
    assert len(taken) == 5
