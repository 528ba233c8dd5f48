"""The functions that pipelines and peers run, shared by every scenario.

They live at module level in one module because worker processes receive them by reference
(pickle and cloudpickle send ``benchmarks.workloads.inc``, not its code), so every child must
be able to import them; and because pypeln and its peers must call the very same functions for
a ratio between them to measure the machinery, not the work.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

SLEEP_SECONDS = 0.01


# -- the 3-stage trivial pipeline: map(x+1) -> filter(x%2==0) -> map(x*2) ----------------------


def inc(x: int) -> int:
    return x + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def double(x: int) -> int:
    return x * 2


def mark_even(x: int) -> tuple[bool, int]:
    """``is_even`` for a pool stage, which cannot drop items: the verdict travels with ``x``."""
    return is_even(x), x


async def ainc(x: int) -> int:
    return x + 1


async def ais_even(x: int) -> bool:
    return x % 2 == 0


async def adouble(x: int) -> int:
    return x * 2


def trivial_expected(n: int) -> list[int]:
    """The output of the trivial pipeline over ``range(n)``, by plain generators."""
    incremented = (inc(x) for x in range(n))
    evens = (x for x in incremented if is_even(x))
    return [double(x) for x in evens]


def checksum(values: list[int]) -> tuple[int, int]:
    """``(count, sum)``: what a pipeline run in another interpreter reports of its output."""
    return len(values), sum(values)


# -- blocking and async waits -----------------------------------------------------------------


def nap(x: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return x


async def anap(x: int) -> int:
    await asyncio.sleep(SLEEP_SECONDS)
    return x


# -- CPU-bound work ---------------------------------------------------------------------------


def spin(loops: int, x: int) -> int:
    """``loops`` iterations of pure Python, then ``x`` unchanged."""
    total = 0
    for i in range(loops):
        total += i
    return x


def time_spin(loops: int) -> float:
    start = time.perf_counter()
    spin(loops, 0)
    return time.perf_counter() - start


def calibrate_spin(seconds: float) -> int:
    """How many ``spin`` loops take ``seconds`` here (best of 5, measured over >= 50 ms)."""
    loops = 1_000
    while time_spin(loops) < 0.05:
        loops *= 2
    per_loop = min(time_spin(loops) for _ in range(5)) / loops
    return max(1, round(seconds / per_loop))


# -- payloads ---------------------------------------------------------------------------------


def identity(x: Any) -> Any:
    return x


def make_block(size: int, i: int) -> bytes:
    """``size`` bytes, all equal to ``i % 256``: a fresh large item, cheap to make and check."""
    return bytes([i % 256]) * size


# -- probes -----------------------------------------------------------------------------------


def worker_parent(x: int) -> int:
    """The pid of the process that started this worker: the pipeline's own under ``fork``."""
    return os.getppid()


def niceness(x: int) -> int:
    """The worker's niceness (Ray starts its workers at 15 unless told otherwise)."""
    return os.nice(0)


# -- the bodies of hand-written Ray actors (peers.py makes them actors) ------------------------


class BatchStage:
    """One stage of a hand-written actor chain: ``f`` over a whole batch, as a map or (with
    ``keep``) as a filter."""

    def __init__(self, f: Any, keep: bool = False) -> None:
        self.f = f
        self.keep = keep

    def run(self, batch: list[Any]) -> list[Any]:
        f = self.f
        if self.keep:
            return [x for x in batch if f(x)]
        return [f(x) for x in batch]


class Relay:
    """A hand-written actor that hands on what it gets: ``identity`` as a Ray actor."""

    def run(self, x: Any) -> Any:
        return identity(x)
