"""Large buffers in process stages, under this suite's leak checks: however a run ends
(its end, an early stop, an error, a worker killed mid-item), its shared-memory chunks are
gone from ``/dev/shm`` (``tests/faults/conftest.py``), and arrays the consumer kept stay
valid after that.

How the transport itself behaves is in ``tests/backends/process/test_shared_buffers.py``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import pypeln as pl
from tests.contract.test_teardown import STOPS

METHODS = ["auto", "forkserver"]
MiB = 1024 * 1024


def arrays(count: int = 10_000) -> Iterator[np.ndarray]:
    for index in range(count):
        yield np.full(MiB, index % 251, dtype=np.uint8)


def add_one(array: np.ndarray) -> np.ndarray:
    return array + 1  # a new array: copied into this worker's chunks


def passed_on(array: np.ndarray) -> np.ndarray:
    return array  # the same array: passed on in the chunk it came in


def large_pipeline(api: Any, count: int = 10_000) -> Any:
    stage = api.map(add_one, arrays(count), workers=2, maxsize=3)
    return api.map(passed_on, stage, workers=2, maxsize=3)


@pytest.mark.parametrize("method", METHODS)
def test_arrays_kept_after_the_run_stay_valid(method: str) -> None:
    kept = list(large_pipeline(pl.process.using(method), count=30))
    assert sorted(int(array[0]) for array in kept) == [i % 251 + 1 for i in range(30)]
    assert all((array == array[0]).all() for array in kept)


@pytest.mark.parametrize("stop", STOPS, ids=lambda stop: stop.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_every_way_of_stopping_early_leaves_no_chunk(
    method: str, stop: Callable[[object], None]
) -> None:
    stop(large_pipeline(pl.process.using(method)))


def fail_at_5(array: np.ndarray) -> np.ndarray:
    if array[0] == 5:
        raise ValueError("item 5")
    return array


def kill_at_5(array: np.ndarray) -> np.ndarray:
    if array[0] == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return array


@pytest.mark.parametrize("method", METHODS)
def test_an_error_in_a_stage_leaves_no_chunk(method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(ValueError, match="item 5"):
        list(api.map(fail_at_5, large_pipeline(api), workers=2, maxsize=2))


@pytest.mark.parametrize("method", METHODS)
def test_a_worker_killed_mid_item_leaves_no_chunk(method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(pl.WorkerCrashedError):
        list(api.map(kill_at_5, large_pipeline(api), workers=2, maxsize=2))
