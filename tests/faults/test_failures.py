"""Fault injection: an exception anywhere, on every backend, reaches the consumer as itself.

Each case fails in ``f``, in a hook or in the source, at the first, a middle or the last
element, for several ``workers`` and ``maxsize`` (0 and 1 included), on every backend, on
``task`` with async functions too, and in a pipeline mixing backends. It asserts the
original type and attributes, the failing stage named in a note, a bounded time, and (the
autouse fixture of ``tests/conftest.py``) no thread or child process left behind.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import pypeln as pl
from tests.conftest import ASYNC_CASES, BACKENDS, capabilities, namespace_of
from tests.shared import ctrl_c_when

SIZE = 40
POSITIONS = {"first": 0, "middle": SIZE // 2, "last": SIZE - 1}


class Fault(Exception):
    """A user's error whose constructor takes other arguments than it passes on."""

    def __init__(self, where: str, index: int) -> None:
        super().__init__(f"{where} failed at {index}")
        self.where = where
        self.index = index


# Module-level, so that worker processes find them (pickled by reference or by value).


def fail_in_f(at: int, x: int) -> int:
    if x == at:
        raise Fault("f", x)
    return x


async def fail_in_async_f(at: int, x: int) -> int:
    await asyncio.sleep(0)
    if x == at:
        raise Fault("f", x)
    return x


def failing_on_start() -> None:
    raise Fault("on_start", -1)


async def failing_async_on_start() -> None:
    await asyncio.sleep(0)
    raise Fault("on_start", -1)


def failing_on_done() -> None:
    raise Fault("on_done", -1)


async def failing_async_on_done() -> None:
    await asyncio.sleep(0)
    raise Fault("on_done", -1)


def source_failing_at(at: int) -> Iterator[int]:
    for x in range(SIZE):
        if x == at:
            raise Fault("source", x)
        yield x


async def async_source_failing_at(at: int) -> AsyncIterator[int]:
    for x in range(SIZE):
        await asyncio.sleep(0)
        if x == at:
            raise Fault("source", x)
        yield x


def identity(x: int) -> int:
    return x


async def async_identity(x: int) -> int:
    return x


class Case:
    """One backend as the fault suite drives it: its namespace and its kind of functions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asynchronous = name.endswith("-async")
        self.api: Any = namespace_of(name)

    def f(self, at: int) -> Callable[..., Any]:
        if self.asynchronous:

            async def fail_async(x: int) -> int:
                return await fail_in_async_f(at, x)

            return fail_async

        def fail(x: int) -> int:
            return fail_in_f(at, x)

        return fail

    def hook(self, where: str) -> Callable[..., Any]:
        if where == "on_start":
            return failing_async_on_start if self.asynchronous else failing_on_start
        return failing_async_on_done if self.asynchronous else failing_on_done

    def identity(self) -> Callable[..., Any]:
        return async_identity if self.asynchronous else identity

    def source(self, at: int) -> Any:
        return async_source_failing_at(at) if self.asynchronous else source_failing_at(at)


CASES = BACKENDS + ASYNC_CASES
FAILURES = [
    *(f"f-{name}" for name in POSITIONS),
    "on_start",
    "on_done",
    *(f"source-{name}" for name in POSITIONS),
]


def pipeline(case: Case, failure: str, workers: int, maxsize: int) -> tuple[Any, str]:
    """A three-stage pipeline that fails as ``failure`` says; how the note names the failing
    stage or source."""
    api, where, _, position = case.api, *failure.partition("-")
    at = POSITIONS.get(position, -1)
    source = case.source(at) if where == "source" else range(SIZE)
    plain = workers or 1  # workers=0 (no limit) is for the async f in the middle only
    first = api.map(case.identity(), source, workers=plain, maxsize=maxsize)
    options: dict[str, Any] = {"workers": workers, "maxsize": maxsize}
    if where in ("on_start", "on_done"):
        options[where] = case.hook(where)
    f = case.f(at) if where == "f" else case.identity()
    middle = api.map(f, first, **options)
    last = api.filter(lambda x: True, middle, workers=plain, maxsize=maxsize)
    if where == "source":  # described as the iterable the user passed to the first stage
        return last, f"pypeln: the iterable passed to {first.name} ("
    return last, f"pypeln: stage '{middle.name}'"


WORKERS = [(name, workers) for name in CASES for workers in (1, 3)]
WORKERS += [(name, 0) for name in ASYNC_CASES if capabilities(name).unlimited_workers]


# Every failure with each workers and maxsize; on a cluster, whose every run starts its actors
# (seconds each), with several workers and the two ways items travel there (unbounded between
# actors: references to results; bounded: the items through the driver).
SHAPES = [
    (name, workers, maxsize)
    for name, workers in WORKERS
    for maxsize in (0, 1, 4)
    if not capabilities(name).joins_cluster or (workers == 3 and maxsize < 4)
]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize(("name", "workers", "maxsize"), SHAPES)
def test_an_error_anywhere_reaches_the_consumer_as_itself(
    name: str, failure: str, workers: int, maxsize: int
) -> None:
    case = Case(name)
    stage, failing = pipeline(case, failure, workers, maxsize)
    started = time.monotonic()
    with pytest.raises(Fault) as caught:
        for _ in stage:
            pass
    assert time.monotonic() - started < 20
    error = caught.value
    where, _, position = failure.partition("-")
    assert error.where == where
    if position:
        assert error.index == POSITIONS[position]
    notes = "\n".join(getattr(error, "__notes__", []))
    assert failing in notes, notes


@pytest.mark.parametrize("failure", ["f-first", "f-last", "on_done", "source-middle"])
def test_an_error_in_a_mixed_pipeline_reaches_the_consumer(failure: str) -> None:
    where, _, position = failure.partition("-")
    at = POSITIONS.get(position, -1)

    async def hop(x: int) -> int:
        await asyncio.sleep(0)
        return x

    source = source_failing_at(at) if where == "source" else range(SIZE)
    stage = pl.thread.map(identity, source, workers=2, maxsize=1)
    stage = pl.task.map(hop, stage, workers=5, maxsize=2)
    options: dict[str, Any] = {"on_done": failing_on_done} if where == "on_done" else {}
    f = (lambda x: fail_in_f(at, x)) if where == "f" else identity
    stage = pl.process.map(f, stage, workers=2, maxsize=2, **options)
    stage = pl.task.map(hop, stage, maxsize=1)
    with pytest.raises(Fault) as caught:
        list(stage)
    assert caught.value.where == where


@pytest.mark.parametrize("name", [name for name in CASES if capabilities(name).shares_memory])
def test_keyboard_interrupt_while_workers_are_busy_and_queues_full(name: str) -> None:
    # pl.process has its own, with real worker processes: tests/backends/process/test_process.py.
    case = Case(name)
    workers = 3 if capabilities(name).concurrent_workers else 1
    inside = threading.Semaphore(0)  # released once per call that is inside f
    release = threading.Event()

    def blocks(x: int) -> int:
        inside.release()
        release.wait(timeout=30)
        return x

    async def awaits(x: int) -> int:
        inside.release()
        await asyncio.sleep(30)
        return x

    def all_inside() -> None:
        for _ in range(workers):
            assert inside.acquire(timeout=10)

    f = awaits if case.asynchronous else blocks
    stage = case.api.map(f, range(1000), workers=workers, maxsize=1)
    stage = case.api.map(case.identity(), stage, maxsize=1)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt), ctrl_c_when(all_inside):  # wakes the consumer
            for _ in stage:
                pass
        assert time.monotonic() - started < 15
    finally:
        release.set()  # threads stuck in f end now; the fixtures check that all are gone


# -- timeouts, fan-out -------------------------------------------------------------------------


def sleeps_on_two(x: int) -> int:
    if x == 2:
        time.sleep(1.5)  # the call that runs over; the test never waits for it to end
    return x


def blocks_on_two(x: int) -> int:
    if x == 2:
        threading.Event().wait(timeout=1.5)
    return x


def spins_on_two(x: int) -> int:
    if x == 2:  # holds the GIL, busy, for 1.5 s: no thread can interrupt it
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            pass
    return x


async def awaits_on_two(x: int) -> int:
    if x == 2:
        await asyncio.sleep(30)  # cancelled by the timeout
    return x


TIMEOUT_CASES = [
    (name, how)
    for name in CASES
    for how in ("sleeps", "blocks", "spins")
    if not name.endswith("-async")
] + [("task-async", "awaits")]


@pytest.mark.parametrize(("name", "how"), TIMEOUT_CASES)
def test_a_call_over_its_timeout_is_skipped_and_counted(name: str, how: str) -> None:
    # A spinning call is skipped and counted everywhere; only a process can also end it
    # (tests/backends/process/test_process.py spins forever): elsewhere it runs on, abandoned.
    case = Case(name)
    f = {
        "sleeps": sleeps_on_two,
        "blocks": blocks_on_two,
        "spins": spins_on_two,
        "awaits": awaits_on_two,
    }[how]
    run = case.api.to_iterable(case.api.map(f, range(6), workers=2, maxsize=1, timeout=0.3))
    assert sorted(run) == [0, 1, 3, 4, 5]
    assert run.timed_out() == {f"map({f.__name__})": 1}


@pytest.mark.parametrize("size", [0, 1, 2, 7])
@pytest.mark.parametrize("name", CASES)
def test_a_stage_fanned_out_and_merged_delivers_every_item_once(name: str, size: int) -> None:
    case = Case(name)
    api = case.api
    shared = api.map(case.identity(), source_failing_at(-1) if size else iter([]), maxsize=1)
    shared = api.filter(lambda x: x < size, shared, workers=2, maxsize=1)
    left = api.map(case.identity(), shared, workers=2, maxsize=1)
    right = api.map(case.identity(), shared, maxsize=1)
    merged = api.concat([left, right, []], maxsize=1)
    assert sorted(merged) == sorted([*range(size), *range(size)])
