"""Hooks run once per worker and inject resources, worker_info, element_index, stage_status."""

from __future__ import annotations

import asyncio
from types import ModuleType

import pypeln as pl
from tests.shared import Shared


def test_on_start_resources_are_injected_into_f_and_on_done(
    backend: ModuleType, shared: Shared
) -> None:
    started = shared.list()
    done = shared.list()
    lock = shared.lock()

    def on_start(worker_info: pl.WorkerInfo) -> dict[str, object]:
        with lock:
            started.append(worker_info.index)
        return {"factor": 10, "calls": []}

    def f(x: int, factor: int, calls: list[int]) -> int:
        calls.append(x)
        return x * factor

    def on_done(calls: list[int], worker_info: pl.WorkerInfo) -> None:
        with lock:
            done.append((worker_info.index, len(calls)))

    workers = 3
    result = sorted(backend.map(f, range(30), workers=workers, on_start=on_start, on_done=on_done))
    assert result == [x * 10 for x in range(30)]
    expected_workers = 1 if backend is pl.sync else workers
    done = [tuple(entry) for entry in done]
    assert sorted(started) == list(range(expected_workers))
    assert sorted(index for index, _ in done) == list(range(expected_workers))
    assert sum(count for _, count in done) == 30  # every call went through some worker's state


def test_stage_status_tells_exactly_the_last_worker_it_is_done(
    backend: ModuleType, shared: Shared
) -> None:
    seen = shared.list()
    lock = shared.lock()

    def on_done(stage_status: pl.StageStatus) -> None:
        with lock:
            seen.append((stage_status.done, stage_status.active_workers))

    list(backend.map(str, range(20), workers=4, on_done=on_done))
    workers = 1 if backend is pl.sync else 4
    seen = [tuple(entry) for entry in seen]
    # Each finishing worker sees how many were still running then: exactly one sees done.
    assert sorted(active for _, active in seen) == list(range(workers))
    assert [done for done, _ in seen].count(True) == 1
    assert all(done == (active == 0) for done, active in seen)


def test_element_index_is_the_source_position(backend: ModuleType) -> None:
    def tag(x: str, element_index: tuple[int, ...]) -> tuple[tuple[int, ...], str]:
        return element_index, x

    assert sorted(backend.map(tag, "abc", workers=2)) == [((0,), "a"), ((1,), "b"), ((2,), "c")]

    def expand(x: str, element_index: tuple[int, ...]) -> list[tuple[int, ...]]:
        return [element_index, element_index]

    indices = sorted(backend.map(tag, backend.flat_map(expand, "ab")))
    assert [index for index, _ in indices] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_namespace_is_shared_and_locked(backend: ModuleType) -> None:
    ns = backend.Namespace(count=0, label="x")

    def bump(x: int) -> None:
        with ns:
            ns.count += 1

    backend.each(bump, range(500), workers=4, run=True)
    assert ns.count == 500 and ns.label == "x"


def test_hooks_may_take_defaults_and_ignore_unknown_names(backend: ModuleType) -> None:
    def f(x: int, scale: int = 2) -> int:
        return x * scale

    assert sorted(backend.map(f, range(3), on_start=lambda: {"unused": 1})) == [0, 2, 4]
    assert sorted(backend.map(abs, [-1, 2])) == [1, 2]  # builtins without a signature work


def test_a_namespace_is_locked_from_async_code_too(backend: ModuleType) -> None:
    ns = backend.Namespace(count=0)

    async def bump() -> None:
        async with ns:  # as pypeln 0.4.9's task Namespace
            ns.count += 1

    asyncio.run(bump())
    assert ns.count == 1
