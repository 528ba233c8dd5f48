"""``feed``: a source that threads, tasks and other processes push items into while the
pipeline runs; ``close()`` ends it, and a put never waits for a run that stopped."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl


def put_all(feed: Any, count: int) -> None:
    """A producer: ``count`` items, then the end (module-level: a spawned process runs it)."""
    for x in range(count):
        feed.put(x)
    feed.close()


def test_threads_put_while_a_stage_reads(backend: ModuleType) -> None:
    feed = backend.feed(maxsize=2)

    def put_some(k: int) -> None:
        for x in range(50):
            feed.put(k * 100 + x)

    producers = [threading.Thread(target=put_some, args=(k,)) for k in range(3)]
    for producer in producers:
        producer.start()

    def close_when_done() -> None:
        for producer in producers:
            producer.join()
        feed.close()

    closer = threading.Thread(target=close_when_done)
    closer.start()
    results = sorted(backend.map(lambda x: x, feed, workers=2))
    closer.join()
    assert results == sorted(k * 100 + x for k in range(3) for x in range(50))


def test_put_after_close_and_a_second_run_are_refused(backend: ModuleType) -> None:
    feed = backend.feed()
    feed.put(1)
    feed.close()
    feed.close()  # again: nothing more happens
    with pytest.raises(ValueError, match=r"^Feed.put\(\): the feed is closed"):
        feed.put(2)
    assert list(backend.map(abs, feed)) == [1]
    with pytest.raises(RuntimeError, match="a feed is read by one run only"):
        list(backend.map(abs, feed))


def test_a_put_into_a_stopped_run_raises_instead_of_waiting(backend: ModuleType) -> None:
    feed = backend.feed(maxsize=1)
    run = backend.to_iterable(backend.map(abs, feed, maxsize=1), maxsize=1)
    feed.put(-1)
    assert next(iter(run)) == 1
    run.close()
    with pytest.raises(pl.FeedStoppedError, match="the run that read this feed has stopped"):
        for x in range(10):  # the feed holds one item: a put waits, or finds the run stopped
            feed.put(x)
    feed.close()


def test_async_code_awaits_room() -> None:
    async def main() -> list[int]:
        feed = pl.task.feed(maxsize=1)

        async def produce() -> None:
            for x in range(20):
                await feed.aput(x)
            feed.close()

        producer = asyncio.ensure_future(produce())
        results = [x async for x in pl.task.map(lambda x: x * 2, feed)]
        await producer
        return sorted(results)

    assert asyncio.run(main()) == [x * 2 for x in range(20)]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_another_process_puts_into_the_feed(backend: ModuleType, method: str) -> None:
    if method == "fork" and threading.active_count() > 1:
        pytest.skip("this test process has threads (a Ray driver's): forking it is unsafe")
    feed = backend.feed(maxsize=3)
    producer = multiprocessing.get_context(method).Process(target=put_all, args=(feed, 40))
    producer.start()
    try:
        assert sorted(backend.map(abs, feed, workers=2)) == list(range(40))
    finally:
        producer.join(timeout=30)
    assert producer.exitcode == 0


def test_bad_maxsize(backend: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"^feed\(\): maxsize must be an int >= 0, got -1"):
        backend.feed(maxsize=-1)
