"""``rate``: at most that many calls per second for the whole stage, whatever its workers.

The checks are lower bounds only: each call notes when it began (``time.monotonic``, one
clock for every process of the machine), and the ``k``-th call may not begin before the
rate allows. A slow machine only spaces the calls further apart, so it cannot fail them.
"""

from __future__ import annotations

import time
from types import ModuleType

import pytest

import pypeln as pl
from tests.shared import Shared

RATE = 20.0  # calls per second: 50 ms apart
#: Seconds: the clock's and the waits' own granularity, and where a turn is asked for across
#: processes, how much later one call may begin after its turn than another (a Ray actor
#: asks the stage's keeper actor, over Ray's own calls).
SLACK = {True: 0.004, False: 0.015}


def began(x: int) -> float:
    return time.monotonic()


def assert_within_rate(starts: list[float], rate: float, burst: int, slack: float) -> None:
    """No more than ``burst`` calls at once, then no faster than ``rate`` over any span
    from the first call."""
    starts = sorted(starts)
    for k in range(burst, len(starts)):
        earliest = starts[0] + (k - burst + 1) / rate - slack
        assert starts[k] >= earliest, f"call {k} began {earliest - starts[k]:.3f} s early"


@pytest.mark.parametrize("workers", [1, 3])
def test_calls_never_outrun_the_rate(backend: ModuleType, workers: int) -> None:
    starts = list(backend.map(began, range(12), workers=workers, rate=RATE))
    assert len(starts) == 12
    burst = workers if backend.backend.concurrent_workers else 1
    assert_within_rate(starts, RATE, burst, SLACK[backend.backend.shares_memory])


@pytest.mark.parametrize("name", ["flat_map", "filter", "each"])
def test_every_stage_function_takes_a_rate(backend: ModuleType, shared: Shared, name: str) -> None:
    starts = shared.list()

    def note(x: int) -> object:
        starts.append(time.monotonic())
        return [x] if name == "flat_map" else True

    out = list(getattr(backend, name)(note, range(8), rate=RATE))
    assert sorted(out) == ([] if name == "each" else list(range(8)))
    assert_within_rate(list(starts), RATE, 1, SLACK[backend.backend.shares_memory])


def test_a_retried_call_takes_a_turn_for_each_attempt(backend: ModuleType) -> None:
    attempts: dict[int, list[float]] = {}  # per worker: an item's retries stay in its worker

    def flaky(x: int) -> list[float]:
        attempts.setdefault(x, []).append(time.monotonic())
        if len(attempts[x]) == 1:
            raise OSError("first attempt fails")
        return attempts[x]

    stage = backend.map(flaky, range(6), rate=RATE, retries=pl.Retry(2, delay=0))
    starts = [moment for moments in stage for moment in moments]
    assert len(starts) == 12
    assert_within_rate(starts, RATE, 1, SLACK[backend.backend.shares_memory])
