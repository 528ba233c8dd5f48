"""The thread backend's channel, stop signal and timeout helper, on their own."""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any

import pytest

from pypeln._backends.common.batching import BatchSizer, batch_cap
from pypeln._backends.common.deadline import ThreadDeadline
from pypeln._backends.common.stop_signal import StopSignal
from pypeln._backends.common.thread_channel import ThreadChannel
from pypeln._errors import Stopped
from pypeln._worker.counters import WorkerCounters
from pypeln._worker.kernels import SKIP


def run_in_thread(target: object) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def runner() -> None:
        try:
            outcome.append(target())  # type: ignore[operator]
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=runner)
    thread.start()
    return thread, outcome


def test_end_of_stream_is_counted_over_every_producer() -> None:
    channel = ThreadChannel(maxsize=0, producers=3, readers=1, stop=StopSignal())
    put(channel, [1, 2])
    channel.close()
    channel.close()
    assert channel.get_batch(10) == [1, 2]
    thread, outcome = run_in_thread(lambda: channel.get_batch(10))
    put(channel, [3])  # the third producer is still open: its item is not lost
    thread.join(timeout=5)
    assert outcome == [[3]]
    channel.close()
    assert channel.get_batch(10) == []


def test_maxsize_bounds_the_queue_and_a_partial_put_waits_for_room() -> None:
    channel = ThreadChannel(maxsize=2, producers=1, readers=1, stop=StopSignal())
    thread, outcome = run_in_thread(lambda: put(channel, [1, 2, 3, 4, 5]))
    assert channel.get_batch(1) == [1]
    taken, batch = [1], [1]
    while len(taken) < 5:
        batch = channel.get_batch(10, returned=len(batch))  # done with the last batch
        assert 1 <= len(batch) <= 2
        taken += batch
    thread.join(timeout=5)
    assert taken == [1, 2, 3, 4, 5] and outcome == [None]


def test_fair_share_splits_a_queue_between_readers() -> None:
    channel = ThreadChannel(maxsize=0, producers=1, readers=4, stop=StopSignal())
    put(channel, list(range(8)))
    assert channel.get_batch(100) == [0, 1]  # a quarter of what waits
    assert channel.get_batch(1) == [2]


@pytest.mark.parametrize("blocked_on", ["get", "put"])
def test_stop_wakes_a_blocked_wait(blocked_on: str) -> None:
    stop = StopSignal()
    channel = ThreadChannel(maxsize=1, producers=1, readers=1, stop=stop)
    if blocked_on == "put":
        put(channel, [0])
        thread, outcome = run_in_thread(lambda: put(channel, [1]))
    else:
        thread, outcome = run_in_thread(lambda: channel.get_batch(1))
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and isinstance(outcome[0], Stopped)


def test_batch_sizer_grows_for_fast_items_and_stays_at_one_for_slow() -> None:
    fast = BatchSizer(cap=64)
    for _ in range(10):
        fast.begin()
        fast.end(fast.size)
    assert fast.size == 64
    slow = BatchSizer(cap=64)
    slow.begin()
    threading.Event().wait(0.01)  # one 10 ms item: 10x the batch target
    slow.end(1)
    assert slow.size == 1
    assert batch_cap(maxsize=0, workers=3) > 1000 and batch_cap(maxsize=10, workers=3) == 4


def test_thread_deadline_abandons_an_overrunning_call_and_goes_on() -> None:
    release = threading.Event()
    counters = WorkerCounters()

    def maybe_stuck(x: int) -> int:
        if x == 1:
            release.wait(timeout=5)
        return x * 2

    deadline = ThreadDeadline(maybe_stuck, 0.05, counters, StopSignal())
    assert deadline(0) == 0
    assert deadline(1) is SKIP
    assert deadline(2) == 4  # a fresh helper took over
    assert counters.timed_out == 1
    release.set()
    deadline.close()


def test_thread_deadline_wait_wakes_on_stop() -> None:
    stop = StopSignal()
    release = threading.Event()
    deadline = ThreadDeadline(lambda x: release.wait(timeout=5), 60.0, WorkerCounters(), stop)
    thread, outcome = run_in_thread(lambda: deadline(0))
    stop.set()
    thread.join(timeout=5)
    assert isinstance(outcome[0], Stopped)
    release.set()


@pytest.mark.timeout(10)  # the bug this guards against makes the reader wait forever
def test_unshare_removes_exactly_the_given_buffer() -> None:
    channel = ThreadChannel(maxsize=1, producers=2, readers=1, stop=StopSignal())
    first, second = deque[int](), deque[int]()  # equal (both empty), yet distinct
    channel.share(first)
    channel.share(second)
    channel.unshare(second)
    first.append(7)
    assert channel.get_batch(10) == [7]


def test_a_reader_takes_what_a_producer_holds_within_the_bound() -> None:
    channel = ThreadChannel(maxsize=2, producers=1, readers=1, stop=StopSignal())
    pending = deque([1, 2, 3])
    channel.share(pending)
    assert channel.get_batch(1) == [1]  # took 1, 2 (the room there was), handed out 1
    assert list(pending) == [3] and len(channel) == 1
    assert channel.get_batch(10, returned=1) == [2]  # done with 1: its room is free again
    assert channel.get_batch(10, returned=1) == [3]


def test_a_waiting_reader_is_woken_by_a_hungry_flush() -> None:
    channel = ThreadChannel(maxsize=0, producers=1, readers=1, stop=StopSignal())
    pending: deque[int] = deque()
    channel.share(pending)
    thread, outcome = run_in_thread(lambda: channel.get_batch(10))
    while not channel.hungry:  # the reader is about to wait (it set hungry under the lock)
        threading.Event().wait(0.001)
    pending.append(5)
    channel.put_from(pending)  # what a producer does when it sees a hungry reader
    thread.join(timeout=5)
    assert outcome == [[5]] and channel.hungry == 0


@pytest.mark.parametrize("seed", range(20))
def test_many_producers_and_readers_lose_and_duplicate_nothing(seed: int) -> None:
    rng = random.Random(seed)
    maxsize, producers, readers = rng.randint(0, 3), rng.randint(1, 4), rng.randint(1, 4)
    channel = ThreadChannel(maxsize, producers, readers, StopSignal())
    sent = {p: list(range(p * 1000, p * 1000 + rng.randint(0, 300))) for p in range(producers)}
    received: list[int] = []
    largest = 0

    def produce(items: list[int]) -> None:
        pending: deque[int] = deque()
        channel.share(pending)
        for item in items:
            pending.append(item)
            if len(pending) >= 3 or channel.hungry:
                channel.put_from(pending)
        channel.put_from(pending)
        channel.unshare(pending)
        channel.close()

    def consume() -> None:
        nonlocal largest
        batch: list[int] = []
        while batch := channel.get_batch(rng.randint(1, 5), returned=len(batch)):
            largest = max(largest, len(batch) + len(channel))
            received.extend(batch)

    threads = [threading.Thread(target=produce, args=(items,)) for items in sent.values()]
    threads += [threading.Thread(target=consume) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads), "a producer or reader hung"
    assert sorted(received) == sorted(item for items in sent.values() for item in items)
    if maxsize:
        assert largest <= maxsize + 5  # the queue never held more than maxsize


def test_a_thread_stage_queue_never_exceeds_maxsize(monkeypatch: pytest.MonkeyPatch) -> None:
    import pypeln as pl

    largest: dict[int, int] = {}
    original = ThreadChannel.get_batch

    def recording_get_batch(self: ThreadChannel, limit: int, *more: Any) -> list[object]:
        largest[self.maxsize] = max(largest.get(self.maxsize, 0), len(self))
        return original(self, limit, *more)

    monkeypatch.setattr(ThreadChannel, "get_batch", recording_get_batch)
    stage = pl.thread.map(lambda x: x, range(20_000), workers=8, maxsize=3)
    stage = pl.thread.flat_map(lambda x: [x, x], stage, workers=3, maxsize=5)
    assert len(list(pl.thread.filter(bool, stage, workers=2, maxsize=7))) == 39_998
    assert largest and all(length <= maxsize for maxsize, length in largest.items())


def put(channel: ThreadChannel, items: list[Any]) -> None:
    """Put every item of ``items``, waiting for room as often as needed."""
    channel.put_from(deque(items))
