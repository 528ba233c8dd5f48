"""Task-only behaviour: async functions and hooks, the four ways to consume, event loops."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pypeln as pl
from pypeln._pipeline.combinators.validation import plain_function_threads
from tests.shared import ctrl_c_when


async def double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def is_odd(x: int) -> bool:
    await asyncio.sleep(0)
    return x % 2 == 1


async def repeat(x: int) -> AsyncIterator[int]:
    for _ in range(x % 3):
        await asyncio.sleep(0)
        yield x


class Meeting:
    """``parties`` calls wait inside f until all of them are there (an asyncio barrier)."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.everyone: asyncio.Event | None = None

    async def meet(self, x: int) -> int:
        if self.everyone is None:
            self.everyone = asyncio.Event()  # in the loop that runs the calls
        self.arrived += 1
        if self.arrived == self.parties:
            self.everyone.set()
        await asyncio.wait_for(self.everyone.wait(), timeout=10)
        return x


# -- async functions and hooks ----------------------------------------------------------------


def test_async_map_filter_flat_map_agree_with_builtins() -> None:
    assert sorted(pl.task.map(double, range(50), workers=4)) == [2 * x for x in range(50)]
    assert sorted(pl.task.filter(is_odd, range(50), workers=3)) == list(range(1, 50, 2))
    expanded = pl.task.flat_map(repeat, range(30), workers=5)
    assert Counter(expanded) == Counter(x for x in range(30) for _ in range(x % 3))


def test_flat_map_takes_sync_and_async_iterables_and_awaitables() -> None:
    def generator(x: int) -> Iterator[int]:
        yield from (x, x)

    async def returns_list(x: int) -> list[int]:
        return [x, x, x]

    assert sorted(pl.task.flat_map(generator, [1, 2])) == [1, 1, 2, 2]
    assert sorted(pl.task.flat_map(returns_list, [1])) == [1, 1, 1]
    assert list(pl.task.ordered(pl.task.flat_map(repeat, [2, 1, 5], workers=3))) == [2, 2, 1, 5, 5]


def test_async_hooks_inject_resources_and_see_the_stage_finish() -> None:
    done: list[bool] = []

    async def on_start(worker_info: pl.WorkerInfo) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"offset": 100 + 0 * worker_info.index}

    async def add(x: int, offset: int) -> int:
        return x + offset

    async def on_done(offset: int, stage_status: pl.StageStatus) -> None:
        await asyncio.sleep(0)
        done.append(stage_status.done)

    stage = pl.task.map(add, range(10), workers=3, on_start=on_start, on_done=on_done)
    assert sorted(stage) == [x + 100 for x in range(10)]
    assert sorted(done) == [False, False, True]


def test_async_hooks_on_a_plain_function_stage() -> None:
    async def on_start() -> dict[str, int]:
        return {"k": 3}

    assert sorted(pl.task.map(lambda x, k: x * k, range(4), workers=2, on_start=on_start)) == [
        0,
        3,
        6,
        9,
    ]


def test_a_plain_function_returning_an_awaitable_is_awaited() -> None:
    assert sorted(pl.task.map(lambda x: asyncio.sleep(0, x + 1), range(5), workers=2)) == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_an_object_with_an_async_call_runs_in_the_loop() -> None:
    class Fetcher:
        async def __call__(self, x: int) -> str:
            asyncio.get_running_loop()  # raises outside a loop
            return str(x)

    assert sorted(pl.task.map(Fetcher(), range(3))) == ["0", "1", "2"]


# -- errors -------------------------------------------------------------------------------------


async def fail_on_seven(x: int) -> int:
    await asyncio.sleep(0)
    if x == 7:
        raise KeyError("seven", x)
    return x


@pytest.mark.parametrize("workers", [1, 4, 0])
def test_an_async_error_keeps_its_type_and_names_stage_and_element(workers: int) -> None:
    with pytest.raises(KeyError) as caught:
        list(pl.task.map(fail_on_seven, range(100), workers=workers, maxsize=2))
    assert caught.value.args == ("seven", 7)
    assert "stage 'map(fail_on_seven)'" in caught.value.__notes__[0]
    assert "element (7,): 7" in caught.value.__notes__[0]


def test_an_error_in_an_async_on_start_or_async_source_is_raised() -> None:
    async def on_start() -> None:
        raise RuntimeError("no connection")

    with pytest.raises(RuntimeError, match="no connection"):
        list(pl.task.map(double, range(5), on_start=on_start))

    async def source() -> AsyncIterator[int]:
        yield 1
        raise OSError("source broke")

    with pytest.raises(OSError, match="source broke"):
        list(pl.task.map(double, source()))


def test_ten_thousand_inputs_still_raise() -> None:  # 0.4.9 dropped errors with inputs >= 10
    for size in (10, 10_000):
        with pytest.raises(KeyError):
            list(pl.task.map(fail_on_seven, range(size), workers=10))


# -- the four ways to consume ---------------------------------------------------------------


def test_for_list_async_for_await_and_run() -> None:
    stage = pl.task.map(double, range(5), workers=2)
    assert sorted(x for x in stage) == [0, 2, 4, 6, 8]
    assert sorted(list(stage)) == [0, 2, 4, 6, 8]

    async def main() -> tuple[list[int], list[int]]:
        iterated = [x async for x in stage]
        awaited = await stage
        return iterated, awaited

    iterated, awaited = asyncio.run(main())
    assert sorted(iterated) == sorted(awaited) == [0, 2, 4, 6, 8]
    seen: list[int] = []

    async def record(x: int) -> None:
        seen.append(x)

    pl.task.run(pl.task.each(record, stage))
    assert sorted(seen) == [0, 2, 4, 6, 8]


def test_sync_iteration_inside_a_running_loop_does_not_deadlock() -> None:
    async def handler() -> list[int]:
        # A notebook cell or an async web handler: a loop runs in this thread already.
        items = list(pl.task.map(double, range(20), workers=3, maxsize=1))
        return items + [x for x in pl.task.map(lambda x: x, range(3))]

    assert sorted(asyncio.run(handler())) == sorted([2 * x for x in range(20)] + [0, 1, 2])


def test_await_and_async_for_work_on_other_backends() -> None:
    async def main() -> tuple[list[int], list[int]]:
        threads = [x async for x in pl.thread.map(abs, range(-3, 3), workers=2)]
        processes = await pl.process.map(abs, range(-2, 1))
        return threads, processes

    threads, processes = asyncio.run(main())
    assert sorted(threads) == [0, 1, 1, 2, 2, 3] and sorted(processes) == [0, 1, 2]


# -- concurrency ------------------------------------------------------------------------------


def test_async_workers_run_calls_at_the_same_time() -> None:
    meeting = Meeting(50)
    assert sorted(pl.task.map(meeting.meet, range(50), workers=50)) == list(range(50))


def test_workers_zero_means_no_limit_on_concurrent_calls() -> None:
    meeting = Meeting(300)  # every call waits until all 300 are in flight at once
    assert sorted(pl.task.map(meeting.meet, range(300), workers=0, maxsize=10)) == list(range(300))


def test_workers_zero_runs_a_plain_function_in_threads_as_0_4_9_accepted() -> None:
    threads = plain_function_threads()
    meeting = threading.Barrier(threads, timeout=10)  # that many calls are running at once
    stage = pl.task.map(lambda x: (meeting.wait(), x)[1], range(threads * 3), workers=0)
    assert stage.workers == threads
    assert sorted(stage) == list(range(threads * 3))
    with pytest.raises(ValueError, match=r"^map\(\): workers must be an int >= 1, got 0$"):
        pl.thread.map(double, [1], workers=0)


def test_an_idle_async_pipeline_uses_no_cpu() -> None:
    entered = threading.Event()

    async def wait_a_while(x: int) -> int:
        entered.set()
        await asyncio.sleep(0.5)
        return x

    consumer = threading.Thread(target=lambda: list(pl.task.map(wait_a_while, range(2))))
    consumer.start()
    assert entered.wait(timeout=10)
    cpu_before = time.process_time()
    consumer.join(timeout=10)
    assert time.process_time() - cpu_before < 0.1


def test_timeout_cancels_the_call_and_counts_it() -> None:
    cancelled: list[int] = []

    async def stuck_on_three(x: int) -> int:
        try:
            if x == 3:
                await asyncio.Event().wait()  # never set: only cancellation ends it
            return x
        except asyncio.CancelledError:
            cancelled.append(x)
            raise

    run = pl.task.to_iterable(pl.task.map(stuck_on_three, range(8), workers=2, timeout=0.2))
    assert sorted(run) == [0, 1, 2, 4, 5, 6, 7]
    assert run.timed_out() == {"map(stuck_on_three)": 1} and cancelled == [3]


def test_a_timeout_error_of_the_call_itself_is_an_error() -> None:
    async def raises_timeout(x: int) -> int:
        raise asyncio.TimeoutError("the service timed out")

    with pytest.raises(asyncio.TimeoutError, match="the service timed out"):
        list(pl.task.map(raises_timeout, [1], timeout=5))


# -- teardown ---------------------------------------------------------------------------------


def test_early_exit_in_async_code_cancels_every_task_and_awaits_its_cleanup() -> None:
    started: list[int] = []
    cleaned: list[int] = []
    done: list[int] = []

    in_flight = Meeting(5)  # item 0 comes out only once the four others are in their calls

    async def slow_after_first(x: int) -> int:
        started.append(x)
        try:
            if x < 5:
                await in_flight.meet(x)
            if x > 0:
                await asyncio.sleep(30)
            return x
        finally:
            cleaned.append(x)

    async def main() -> None:
        stage = pl.task.map(
            slow_after_first,
            range(100),
            workers=5,
            on_done=lambda worker_info: done.append(worker_info.index),
        )
        async with contextlib.aclosing(stage.__aiter__()) as items:  # type: ignore[type-var]
            async for _ in items:
                break
        assert sorted(done) == list(range(5))  # every worker cancelled ran on_done
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not others, others

    asyncio.run(main())  # pytest-timeout ends it if the teardown hangs
    assert len(started) >= 5 and sorted(cleaned) == sorted(started)  # each call was cancelled


def test_break_in_sync_code_stops_the_loop_thread() -> None:
    before = threading.active_count()
    for _ in pl.task.map(double, range(10**6), workers=10, maxsize=2):
        break
    assert threading.active_count() == before


def test_keyboard_interrupt_while_workers_are_busy() -> None:
    busy = threading.Barrier(3, timeout=10)  # two plain workers in f, and the interrupter
    release = threading.Event()

    def wait_for_release(x: int) -> int:
        busy.wait()
        release.wait(timeout=30)
        return x

    try:
        with pytest.raises(KeyboardInterrupt), ctrl_c_when(busy.wait):  # the consumer: a lock
            stage = pl.task.map(wait_for_release, range(100), workers=2, maxsize=2)
            for _ in pl.task.map(double, stage):
                pass
        loops = [t for t in threading.enumerate() if t.name == "pypeln task loop"]
        assert not loops  # the run's loop ended; the two stuck calls are released below
    finally:
        release.set()


# -- mixed pipelines and loss ---------------------------------------------------------------


def test_thread_task_thread_pipeline_with_bounded_queues() -> None:
    meeting = Meeting(100)  # the task stage really runs 100 calls at once

    async def fetch(x: int) -> int:
        if x < 100:
            await meeting.meet(x)
        return x + 1

    stage = pl.thread.flat_map(lambda x: [x, x + 5000], range(2500), workers=4, maxsize=10)
    stage = pl.task.map(fetch, stage, workers=100, maxsize=100)
    stage = pl.thread.map(lambda x: -x, stage, workers=3, maxsize=25)
    assert sorted(stage) == sorted(-(y + 1) for x in range(2500) for y in (x, x + 5000))


def test_task_process_task_pipeline() -> None:
    stage = pl.task.map(double, range(300), workers=10, maxsize=5)
    stage = pl.process.map(abs, stage, workers=2, maxsize=5)
    stage = pl.task.filter(is_odd, pl.task.map(lambda x: x + 1, stage), workers=3)
    assert sorted(stage) == [2 * x + 1 for x in range(300)]


def numbers(size: int) -> Iterator[int]:
    yield from range(size)  # a one-shot sync source, read in a thread


async def is_small(x: int) -> bool:
    return x < 20


@settings(deadline=None, max_examples=40)
@given(st.integers(0, 40), st.integers(1, 4), st.integers(0, 3), st.booleans())
def test_every_item_arrives_exactly_once(size: int, workers: int, maxsize: int, sync: bool) -> None:
    f: Any = (lambda x: 2 * x) if sync else double
    for _ in range(3):  # a bounded first stage fed by a one-shot sync source
        first = pl.task.map(f, numbers(size), workers=workers, maxsize=maxsize)
        assert sorted(pl.task.map(f, first, maxsize=1)) == [4 * x for x in range(size)]
        # a stage fanned out into two branches, merged again
        shared = pl.task.map(f, numbers(size), workers=workers, maxsize=maxsize)
        merged = pl.task.concat([shared, pl.task.filter(is_small, shared, workers=workers)])
        expected = [2 * x for x in range(size)] + [2 * x for x in range(size) if 2 * x < 20]
        assert sorted(pl.task.map(lambda x: x, merged, maxsize=maxsize)) == sorted(expected)


# -- event loops --------------------------------------------------------------------------------


async def loop_module(x: int) -> str:
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]


def test_uvloop_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")  # installed by `make test` (the test extra)
    assert list(pl.task.using("uvloop").map(loop_module, [1])) == ["uvloop"]
    assert list(pl.task.map(loop_module, [1])) == ["asyncio"]
    monkeypatch.setenv("PYPELN_EVENT_LOOP", "uvloop")
    assert list(pl.task.map(loop_module, [1])) == ["uvloop"]
    assert list(pl.task.using("asyncio").map(loop_module, [1])) == ["asyncio"]


def test_event_loop_names_are_checked() -> None:
    with pytest.raises(ValueError, match=r"using\(\): event_loop must be one of"):
        pl.task.using("trio")


def test_the_io_alias() -> None:
    assert pl.io is pl.task and pl.task.Stage is pl.Stage


# -- regressions found in review ------------------------------------------------------------


async def cancelled_on_three(x: int) -> int:
    if x == 3:  # a CancelledError the run did not cause (e.g. a shared request cancelled)
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        await future
    return x


@pytest.mark.parametrize("workers", [2, 0])
def test_a_cancelled_error_from_f_itself_fails_the_run(workers: int) -> None:
    with pytest.raises(RuntimeError, match="raised CancelledError") as caught:
        list(pl.task.map(cancelled_on_three, range(10), workers=workers))
    assert isinstance(caught.value.__cause__, asyncio.CancelledError)
    assert "map(cancelled_on_three)" in "\n".join(caught.value.__notes__)


def test_a_loop_that_cannot_be_created_raises_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYPELN_EVENT_LOOP", "bogus")
    with pytest.raises(ValueError, match="PYPELN_EVENT_LOOP"):
        list(pl.task.map(abs, [1]))


def test_shutdown_waits_for_every_thread_worker_even_after_one_ended_early() -> None:
    done: list[int] = []

    def on_done() -> None:
        time.sleep(0.2)
        done.append(1)

    async def fails(x: int) -> int:
        raise LookupError(x)

    stage = pl.task.map(abs, iter([1]))  # a thread worker that ends at once
    stage = pl.task.map(fails, stage)
    stage = pl.task.map(abs, stage, workers=2, on_done=on_done)
    with pytest.raises(LookupError):
        list(stage)
    assert len(done) == 2  # both on_done ran before the error reached the consumer


def test_workers_stopped_before_their_first_step_still_run_their_hooks() -> None:
    started: list[int] = []
    finished: list[bool] = []

    async def on_start(worker_info: pl.WorkerInfo) -> None:
        started.append(worker_info.index)

    async def on_done(stage_status: pl.StageStatus) -> None:
        finished.append(stage_status.done)

    def broken_source() -> Iterator[int]:
        raise OSError("no data")
        yield  # a generator

    stage = pl.task.map(double, broken_source(), workers=3, on_start=on_start, on_done=on_done)
    with pytest.raises(OSError, match="no data"):
        list(stage)
    assert sorted(started) == [0, 1, 2] and sorted(finished) == [False, False, True]


def test_a_waiter_cancelled_after_its_wake_up_passes_it_on() -> None:
    from collections import deque

    from pypeln._backends.common.stop_signal import StopSignal
    from pypeln._backends.task.channel import LoopChannel

    async def main() -> list[Any]:
        channel = LoopChannel(0, 1, 2, StopSignal())
        channel.bind(asyncio.get_running_loop())
        first = asyncio.ensure_future(channel.aget_batch(10))
        await asyncio.sleep(0)
        first.cancel()  # cancelled while waiting: it must leave the queue of waiters
        second = asyncio.ensure_future(channel.aget_batch(10))
        await asyncio.sleep(0)
        await channel.aput_from(deque([((0,), "x")]))
        return await asyncio.wait_for(second, timeout=5)

    assert asyncio.run(main()) == [((0,), "x")]


def test_an_endless_async_source_that_never_awaits_does_not_hold_the_loop() -> None:
    async def numbers() -> AsyncIterator[int]:
        n = 0
        while True:
            yield n  # never awaits: only pypeln can hand the loop over
            n += 1

    iterator = iter(pl.task.map(double, numbers()))  # maxsize=0: nothing makes it wait
    assert next(iterator) == 0  # hangs (pytest-timeout) if the source keeps the loop
    iterator.close()  # type: ignore[attr-defined]


def test_a_call_that_never_awaits_does_not_hold_back_the_results_before_it() -> None:
    seen = [threading.Event() for _ in range(20)]

    async def busy(x: int) -> int:  # holds the loop for all of its call
        if x > 0:
            assert seen[x - 1].wait(timeout=10), f"result {x - 1} was held back"
        return x

    for x in pl.task.map(busy, range(20)):  # one worker: in input order
        seen[x].set()


def test_stopping_unlimited_workers_leaves_no_unretrieved_task_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    async def slow(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    for _ in range(10):
        stage = pl.task.map(slow, range(1000), workers=0, maxsize=2)
        iterator = iter(pl.task.map(abs, stage, maxsize=1))
        next(iterator)
        iterator.close()  # type: ignore[attr-defined]
    gc.collect()
    assert "never retrieved" not in caplog.text
