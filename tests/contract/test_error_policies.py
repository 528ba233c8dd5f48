"""``retries`` and ``on_error``: a call that raises is tried again, then skipped, replaced or
raised, as the stage says; whatever a policy drops is counted in ``RunIterator.failed()``."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared

STAGE_FUNCTIONS = ["map", "flat_map", "filter", "each"]


def notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


def trace_of(error: BaseException) -> str:
    """The traceback of ``error``: its frames here, or their text from another process."""
    return "".join(traceback.format_tb(error.__traceback__)) + notes(error)


def parse(x: int) -> int:
    if x % 3 == 0:
        raise ValueError(f"cannot parse {x}")
    return x * 10


def failing_first(times: int, exception: type[Exception] = OSError) -> Callable[[int], int]:
    """A function that raises ``exception`` on each item's first ``times`` calls. Its count
    lives in the worker (a copy per worker process): retries stay in the worker that began."""
    calls: dict[int, int] = {}

    def flaky(x: int) -> int:
        calls[x] = calls.get(x, 0) + 1
        if calls[x] <= times:
            raise exception(f"attempt {calls[x]} on {x}")
        return x

    return flaky


def test_skip_drops_the_failing_items_and_counts_them(backend: ModuleType) -> None:
    run = backend.to_iterable(backend.map(parse, range(12), workers=3, on_error="skip"))
    assert sorted(run) == [x * 10 for x in range(12) if x % 3]
    assert run.failed() == {"map(parse)": 4}
    assert run.timed_out() == {} and run.filtered_out() == {}


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
def test_skip_works_on_every_stage_function(backend: ModuleType, name: str) -> None:
    def check(x: int) -> Any:
        if x % 4 == 1:
            raise KeyError(x)
        return [x] if name == "flat_map" else x

    run = backend.to_iterable(getattr(backend, name)(check, range(8), workers=2, on_error="skip"))
    kept = sorted(run)
    assert run.failed() == {f"{name}(check)": 2}
    if name == "each":
        assert kept == []
    elif name == "filter":
        assert kept == [2, 3, 4, 6, 7]  # 0 is falsy: filtered out, not failed
        assert run.filtered_out() == {"filter(check)": 1}
    else:
        assert kept == [0, 2, 3, 4, 6, 7]


def test_a_handler_gets_the_failure_and_its_result_takes_the_place(backend: ModuleType) -> None:
    def describe(failure: pl.Failure) -> tuple[Any, ...]:
        return (
            failure.stage,
            failure.item,
            failure.index,
            failure.attempts,
            type(failure.error).__name__,
            str(failure.error),
            "parse" in trace_of(failure.error),
        )

    results = sorted(backend.map(parse, range(7), workers=2, on_error=describe), key=str)
    failures = sorted(r for r in results if isinstance(r, tuple))
    assert sorted(r for r in results if not isinstance(r, tuple)) == [10, 20, 40, 50]
    assert failures == [
        ("map(parse)", x, (x,), 1, "ValueError", f"cannot parse {x}", True) for x in (0, 3, 6)
    ]


def test_a_failure_returned_by_the_handler_reaches_the_consumer(backend: ModuleType) -> None:
    failures = [
        r
        for r in backend.map(parse, range(4), workers=2, on_error=lambda failure: failure)
        if isinstance(r, pl.Failure)
    ]
    assert len(failures) == 2
    for failure in failures:
        assert failure.stage == "map(parse)" and failure.index == (failure.item,)
        assert failure.worker in (0, 1) and failure.attempts == 1
        assert isinstance(failure.error, ValueError) and "parse" in trace_of(failure.error)
    again = pickle.loads(pickle.dumps(failures[0]))  # and it pickles on
    assert again.item == failures[0].item and "parse" in trace_of(again.error)


def test_skip_returned_by_the_handler_drops_the_item_and_counts_it(backend: ModuleType) -> None:
    def only_zero(failure: pl.Failure) -> Any:
        return -1 if failure.item == 0 else pl.SKIP

    run = backend.to_iterable(backend.map(parse, range(10), workers=2, on_error=only_zero))
    assert sorted(run) == sorted([-1] + [x * 10 for x in range(10) if x % 3])
    assert run.failed() == {"map(parse)": 3}


def test_a_handler_that_raises_fails_the_run(backend: ModuleType) -> None:
    def give_up(failure: pl.Failure) -> Any:
        raise RuntimeError(f"no fallback for {failure.item}")

    with pytest.raises(RuntimeError, match=r"^no fallback for 3\n") as caught:
        list(backend.map(parse, [1, 2, 3, 4], on_error=give_up))
    assert "map(parse)" in notes(caught.value) and "element (2,): 3" in notes(caught.value)


def test_the_handler_decides_for_filter_and_each_drops_its_result(backend: ModuleType) -> None:
    def odd(x: int) -> bool:
        if x >= 5:
            raise ValueError(x)
        return x % 2 == 1

    kept = backend.filter(odd, range(8), on_error=lambda failure: failure.item % 5 == 0)
    assert sorted(kept) == [1, 3, 5]
    assert list(backend.each(parse, range(4), on_error=lambda failure: "ignored")) == []


def test_retries_try_a_failing_call_again_until_it_succeeds(backend: ModuleType) -> None:
    run = backend.to_iterable(
        backend.map(failing_first(2), range(10), workers=2, retries=pl.Retry(3, delay=0))
    )
    assert sorted(run) == list(range(10))
    assert run.failed() == {}


def test_retries_run_out_and_the_policy_decides(backend: ModuleType) -> None:
    stage = backend.map(
        failing_first(5), range(4), retries=pl.Retry(3, delay=0), on_error=lambda f: f.attempts
    )
    assert list(stage) == [3, 3, 3, 3]
    with pytest.raises(OSError, match=r"^attempt 3 on 0\n"):
        list(backend.map(failing_first(5), range(4), retries=pl.Retry(3, delay=0)))


def test_only_the_listed_exceptions_are_retried(backend: ModuleType) -> None:
    retry = pl.Retry(3, delay=0, on=(OSError,))
    stage = backend.map(
        failing_first(1, KeyError), range(3), retries=retry, on_error=lambda f: f.attempts
    )
    assert list(stage) == [1, 1, 1]  # KeyError: given up at once
    stage = backend.map(failing_first(1, ConnectionError), range(3), retries=retry)
    assert sorted(stage) == [0, 1, 2]  # an OSError: tried again


def test_an_int_of_retries_retries_that_many_times(backend: ModuleType) -> None:
    assert sorted(backend.map(failing_first(2), range(3), retries=2)) == [0, 1, 2]
    stage = backend.map(failing_first(2), range(3), retries=1, on_error="skip")
    assert list(stage) == []


def test_a_flat_map_expansion_is_retried_whole(backend: ModuleType) -> None:
    calls: dict[int, int] = {}

    def expand(x: int) -> Iterator[int]:
        calls[x] = calls.get(x, 0) + 1
        yield x
        if calls[x] == 1:
            raise OSError("broke off after one item")
        yield x

    run = backend.to_iterable(backend.flat_map(expand, range(4), retries=pl.Retry(2, delay=0)))
    assert sorted(run) == [0, 0, 1, 1, 2, 2, 3, 3]  # the first attempt's item is not kept


def test_a_call_over_its_timeout_is_retried(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()
    calls: dict[int, int] = {}

    def slow_the_first_time(x: int) -> int:
        calls[x] = calls.get(x, 0) + 1
        if x == 3 and calls[x] == 1:
            release.wait(timeout=1.5)  # far over the timeout; released when the test ends
        return x

    stage = backend.map(slow_the_first_time, range(6), timeout=0.3, retries=pl.Retry(2, delay=0))
    run = backend.to_iterable(stage)
    try:
        assert sorted(run) == list(range(6))
        assert run.timed_out() == {}
    finally:
        release.set()


def test_a_timeout_on_the_last_attempt_is_counted_as_before(
    backend: ModuleType, shared: Shared
) -> None:
    release = shared.event()

    def stuck_on_two(x: int) -> int:
        if x == 2:
            release.wait(timeout=3)
        return x

    stage = backend.map(stuck_on_two, range(4), timeout=0.3, retries=pl.Retry(2, delay=0))
    run = backend.to_iterable(stage)
    try:
        assert sorted(run) == [0, 1, 3]
        assert run.timed_out() == {"map(stuck_on_two)": 1} and run.failed() == {}
    finally:
        release.set()


def test_async_functions_and_handlers_are_awaited() -> None:
    calls: dict[int, int] = {}

    async def flaky(x: int) -> int:
        calls[x] = calls.get(x, 0) + 1
        if calls[x] == 1 or x == 2:
            raise OSError(x)
        return x

    async def fallback(failure: pl.Failure) -> Any:
        return pl.SKIP if failure.attempts == 2 else None

    run = pl.task.to_iterable(
        pl.task.map(flaky, range(4), retries=pl.Retry(2, delay=0), on_error=fallback)
    )
    assert sorted(run) == [0, 1, 3]
    assert run.failed() == {"map(flaky)": 1}
