"""Fault injection, under this suite's leak checks: early stops on every backend, and sync
iteration of a stage with async workers inside a running event loop.

The behaviours are specified (and tested once more without the descriptor checks) in
``tests/contract/test_teardown.py`` and ``tests/backends/task/test_task.py``; here each case
must also leave no descriptor or shared memory behind (``tests/faults/conftest.py``). The
faults of worker processes: ``tests/backends/process/faults/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ASYNC_CASES
from tests.contract.test_teardown import STOPS, pipeline
from tests.faults.test_failures import CASES, Case, async_identity


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


@pytest.mark.parametrize("name", ASYNC_CASES)
def test_sync_iteration_of_an_async_stage_inside_a_running_loop_leaves_nothing(
    name: str,
) -> None:
    api = Case(name).api

    async def handler() -> list[int]:
        return list(api.map(async_identity, range(50), workers=5, maxsize=1))

    assert sorted(asyncio.run(handler())) == list(range(50))
