"""``RunIterator``: consumed with ``next()``/``for`` or ``async for``, closed from any thread."""

from __future__ import annotations

import asyncio
import threading
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared


def odd(x: int) -> bool:
    return x % 2 == 1


def double(x: int) -> int:
    return 2 * x


def test_async_for_over_a_run_then_its_statistics(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()

    def stuck_on_two(x: int) -> int:
        if x == 2:
            release.wait(timeout=10)  # far over the timeout; released when the test ends
        return x

    run = backend.to_iterable(backend.filter(odd, backend.map(stuck_on_two, range(8), timeout=0.3)))

    async def consume() -> list[int]:
        return [x async for x in run]

    try:
        assert sorted(asyncio.run(consume())) == [1, 3, 5, 7]
    finally:
        release.set()
    assert run.timed_out() == {"map(stuck_on_two)": 1}
    assert run.filtered_out() == {"filter(odd)": 3}


def test_a_run_is_consumed_one_way_only(backend: ModuleType) -> None:
    run = backend.to_iterable(backend.map(double, range(3)))
    assert next(run) in (0, 2, 4)
    with pytest.raises(TypeError, match=r"consumed with next\(\)/for already; it cannot also"):
        aiter(run)
    run.close()

    run = backend.to_iterable(backend.map(double, range(3)))

    async def first() -> Any:
        async for item in run:
            return item

    assert asyncio.run(first()) in (0, 2, 4)
    with pytest.raises(TypeError, match="consumed with async for already; it cannot also"):
        next(run)
    with pytest.raises(TypeError, match="consumed with async for already"):
        iter(run)


class Consumer(threading.Thread):
    """Takes two items of ``run``, the second once ``between`` is set; ``outcome`` has the
    items, or "stopped" where ``next()`` raised ``StopIteration``."""

    def __init__(self, run: Any, between: threading.Event) -> None:
        super().__init__()
        self.run_iterator, self.between = run, between
        self.outcome: list[Any] = []
        self.took_first = threading.Event()
        self.start()

    def run(self) -> None:
        try:
            self.outcome.append(next(self.run_iterator))
            self.took_first.set()
            self.between.wait(timeout=20)
            self.outcome.append(next(self.run_iterator))
        except StopIteration:
            self.outcome.append("stopped")
        except BaseException as error:
            self.outcome.append(error)
        finally:
            self.took_first.set()


@pytest.mark.timeout(30)
def test_close_from_another_thread_ends_the_consumer_s_next(
    backend: ModuleType, shared: Shared
) -> None:
    release, blocked = shared.event(), shared.event()

    def hold_after_first(x: int) -> int:
        if x > 0:
            blocked.set()
            release.wait(timeout=20)  # released once the consumer returned
        return x

    # The consumer waits in next() for item 1, which f holds; this thread (a watchdog)
    # closes the run.
    go_on = threading.Event()
    go_on.set()
    run = backend.to_iterable(backend.map(hold_after_first, range(5)))
    consumer = Consumer(run, go_on)
    try:
        assert consumer.took_first.wait(timeout=20) and blocked.wait(timeout=20)
        run.close()
        if backend is not pl.sync:  # elsewhere f runs in a worker: next() returns while it waits
            consumer.join(timeout=20)
            assert not consumer.is_alive()
    finally:
        release.set()
        consumer.join(timeout=20)
    assert consumer.outcome == [0, "stopped"]
    with pytest.raises(StopIteration):
        next(run)

    # Closed between two items: the consumer's next next() ends the run.
    run = backend.to_iterable(backend.map(double, range(5)))
    consumer = Consumer(run, threading.Event())
    try:
        assert consumer.took_first.wait(timeout=20)
        run.close()
    finally:
        consumer.between.set()
        consumer.join(timeout=20)
    assert consumer.outcome == [0, "stopped"]


@pytest.mark.timeout(30)
def test_close_from_another_thread_ends_async_for(backend: ModuleType, shared: Shared) -> None:
    release, blocked = shared.event(), shared.event()

    def hold_after_first(x: int) -> int:
        if x > 0:
            blocked.set()
            release.wait(timeout=20)
        return x

    run = backend.to_iterable(backend.map(hold_after_first, range(5)))
    outcome: list[Any] = []
    took_first = threading.Event()

    async def consume() -> None:
        async for item in run:
            outcome.append(item)
            took_first.set()

    consumer = threading.Thread(target=lambda: asyncio.run(consume()))
    consumer.start()
    try:
        assert took_first.wait(timeout=20) and blocked.wait(timeout=20)
        run.close()
        if backend is not pl.sync:
            consumer.join(timeout=20)
            assert not consumer.is_alive()
    finally:
        release.set()
        consumer.join(timeout=20)
    assert outcome == [0]
