"""``maxsize`` bounds what producers run ahead: queued items, pending batches and all.

How the tests prove it. In front of a bounded queue at most ``maxsize`` items wait (queued,
in producers' pending batches, or in a reader's batch), plus one per producer worker (the
item it holds while waiting for room), plus the item each reader has in hand. So once the
readers stop taking, ``f`` has been called at most::

    readers (an item in each one's hands) + maxsize + producer workers

times, and no more until a reader takes again; and at least ``maxsize`` times, as producers
fill the room there is. Each test stops the readers, counts the calls of ``f`` and waits for
two things: the call that fills the room (``f`` sets an event at its ``maxsize``-th call),
then the run's own stall report (``PYPELN_STALL_AFTER``), which comes only once nothing has
moved through any queue for that long: the run is at rest. A producer running past the
bound has made its calls by then; the count must be within the bound.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pypeln._backends.common.stall import StallWarning
from pypeln._pipeline.plan import AUTOMATIC_MAXSIZE
from tests.shared import Shared

STALL_AFTER = "0.2"  # seconds without a move before the run reports a stall
INPUT = 1000  # far more than the bound: only the bound can stop the producers


class Counted:
    """``f``: the identity, counting its calls; the ``least``-th call sets ``reached``."""

    def __init__(self, shared: Shared, least: int) -> None:
        self.calls = shared.list()
        self.reached = shared.event()
        self.least = least

    def __call__(self, x: int) -> int:
        self.calls.append(x)
        if len(self.calls) >= self.least:
            self.reached.set()
        return x


class AsyncCounted(Counted):
    async def __call__(self, x: int) -> int:  # type: ignore[override]
        return super().__call__(x)


class Blocked:
    """``g``: waits for ``release`` before returning (every call: the readers stop)."""

    def __init__(self, shared: Shared) -> None:
        self.release = shared.event()

    def __call__(self, x: int) -> int:
        self.release.wait(timeout=30)
        return x


@contextmanager
def stall_reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """An event set by each stall report of runs started inside (clear it to wait anew)."""
    monkeypatch.setenv("PYPELN_STALL_AFTER", STALL_AFTER)
    reported = threading.Event()

    def record(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, StallWarning):
            reported.set()

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        yield reported


def wait_for_rest(f: Counted, reported: threading.Event) -> int:
    """The calls of ``f`` once it filled the room and the run then reported a stall."""
    assert f.reached.wait(timeout=20), f"f was called {len(f.calls)} times only"
    reported.clear()  # a report from before (slow start-up) does not count
    assert reported.wait(timeout=20), "the run never came to rest"
    return len(f.calls)


def shared_for(api: Any, manager: Any) -> Shared:
    return Shared(manager if not api.backend.shares_memory else None)


@pytest.mark.timeout(45)
@pytest.mark.parametrize(("maxsize", "workers"), [(3, 1), (4, 3)])
def test_the_consumer_bound_counts_what_producers_hold(
    concurrent_backend: Any,
    manager: Any,
    monkeypatch: pytest.MonkeyPatch,
    maxsize: int,
    workers: int,
) -> None:
    api = concurrent_backend
    bound = 1 + maxsize + workers  # 1: the item next() returned, in the caller's hands
    counted = AsyncCounted if api.backend.async_workers else Counted
    f = counted(shared_for(api, manager), maxsize)
    with stall_reports(monkeypatch) as reported:
        iterator = api.to_iterable(api.map(f, range(INPUT), workers=workers), maxsize=maxsize)
        try:
            assert next(iterator) in range(INPUT)
            assert wait_for_rest(f, reported) <= bound
        finally:
            iterator.close()


@pytest.mark.timeout(45)
@pytest.mark.parametrize(("maxsize", "producers", "readers"), [(6, 1, 1), (16, 1, 3)])
def test_a_stage_bound_counts_what_producers_hold(
    concurrent_backend: Any,
    manager: Any,
    monkeypatch: pytest.MonkeyPatch,
    maxsize: int,
    producers: int,
    readers: int,
) -> None:
    api = concurrent_backend
    shared = shared_for(api, manager)
    bound = readers + maxsize + producers  # each reader holds the item g is blocked on
    f, g = Counted(shared, maxsize), Blocked(shared)
    with stall_reports(monkeypatch) as reported:
        fast = api.map(f, range(INPUT), workers=producers)
        iterator = iter(api.map(g, fast, workers=readers, maxsize=maxsize))
        consumer = threading.Thread(target=lambda: sum(1 for _ in iterator))
        consumer.start()
        try:
            assert wait_for_rest(f, reported) <= bound
        finally:
            g.release.set()  # every g returns: the run goes on to its end
            consumer.join(timeout=30)
    assert not consumer.is_alive() and len(f.calls) == INPUT


@pytest.mark.timeout(60)
def test_every_stage_is_bounded_by_default(
    concurrent_backend: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A consumer that stops after one item lets a 2-stage pipeline read its source only a few
    # thousand items ahead (each stage's automatic bound, plus what is in hands), not all.
    api = concurrent_backend
    shared = shared_for(api, manager)
    f = AsyncCounted(shared, AUTOMATIC_MAXSIZE) if api.backend.async_workers else None
    f = f or Counted(shared, AUTOMATIC_MAXSIZE)
    with stall_reports(monkeypatch) as reported:
        stage = api.map(f, range(100_000), workers=2)
        iterator = api.to_iterable(api.map(abs, stage, workers=2))
        try:
            assert next(iter(iterator)) in range(100_000)
            assert wait_for_rest(f, reported) <= 8 * AUTOMATIC_MAXSIZE
        finally:
            iterator.close()
