"""Fault injection, under this suite's leak checks: early stops, dying worker processes,
values and exceptions that cannot cross a process boundary, and sync iteration of a task
stage inside a running event loop.

The behaviours are specified (and tested once more without the descriptor checks) in
``tests/contract/test_teardown.py``, ``tests/runtime/test_process.py`` and
``tests/runtime/test_task.py``; here each case must also leave no descriptor or shared
memory behind (``tests/faults/conftest.py``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

import pypeln as pl
from tests.contract.test_teardown import STOPS, pipeline
from tests.faults.test_failures import CASES, Case, async_identity
from tests.leaks import run_processes
from tests.runtime.test_process import (
    ExtraArguments,
    die_by_exit,
    die_by_kill,
    raise_extra,
    raise_unpicklable,
)


@pytest.mark.parametrize("stop", STOPS, ids=lambda stop: stop.__name__)
@pytest.mark.parametrize("name", CASES)
def test_every_way_of_stopping_early_leaves_nothing(
    name: str, stop: Callable[[object], None]
) -> None:
    case = Case(name)
    stage: Any = pipeline(case.api, size=5_000)
    if case.asynchronous:
        stage = case.api.map(async_identity, stage, workers=3, maxsize=2)
    stop(stage)


@pytest.mark.parametrize("die", [die_by_kill, die_by_exit], ids=lambda die: die.__name__)
@pytest.mark.parametrize("method", ["auto", "forkserver"])
def test_a_worker_process_that_dies_mid_item_leaves_nothing(die: Any, method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(pl.WorkerCrashedError):
        list(api.map(die, range(1_000), workers=2, maxsize=2))


@pytest.mark.parametrize("method", ["auto", "forkserver"])
def test_what_cannot_cross_a_process_boundary_fails_cleanly(method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(ExtraArguments):
        list(api.map(raise_extra, range(10), workers=2, maxsize=1))
    with pytest.raises(pl.RemoteError):  # an exception that cannot be pickled at all
        list(api.map(raise_unpicklable, range(3)))
    with pytest.raises(pl.SerializationError):
        list(api.map(str, [1, threading.Lock(), 3]))
    with pytest.raises(pl.SerializationError):
        list(api.map(lambda x: threading.Lock() if x == 2 else x, range(5)))


def test_sync_iteration_of_a_task_stage_inside_a_running_loop_leaves_nothing() -> None:
    async def handler() -> list[int]:
        return list(pl.task.map(async_identity, range(50), workers=5, maxsize=1))

    assert sorted(asyncio.run(handler())) == list(range(50))


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_every_worker_is_gone_and_reaped_when_the_loop_is_left(method: str) -> None:
    api = pl.process.using(method)
    rounds = 3 if method == "spawn" else 30  # spawn takes ~0.1 s a worker
    for round_ in range(rounds):
        for _ in api.map(abs, range(10_000), workers=2, maxsize=2):
            break
        left = run_processes()  # zombies count: a process not reaped is still there
        assert not left, f"round {round_}: {left}"
