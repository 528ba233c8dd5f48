"""Timing contenders: warm-up, interleaved rounds, medians, and checked results.

A ``Contender`` is one thing to time. ``measure`` runs every contender of a scenario once
untimed (the warm-up), then ``repeat`` rounds in which each contender runs once, so that all
of them see the same machine load, and keeps the wall time of each run. Every result is
checked: a contender that raises, or returns something other than the expected output, keeps
an error instead of times, so a broken pipeline can never show a fast figure; so does one that
runs past its deadline (``guard.py``).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .guard import guarded

# How much of an error message a table cell keeps.
ERROR_CHARS = 160
QUIESCE_TIMEOUT = 1.0  # seconds to wait for the threads of the previous run to end
#: Rounds, as a multiple of ``repeat``, for a ratio whose target is "within noise" of its
#: baseline: the median of five ~0.3 s runs of two busy threads moves by 20% on a shared
#: 2-core machine; fifteen rounds bring that down to a few percent.
CLOSE_CALL_ROUNDS = 3


class WrongResult(Exception):
    """A contender produced something other than the expected output."""


@dataclass(frozen=True)
class Outcome:
    """What a run may return instead of its bare result.

    ``seconds`` replaces the wall time measured around the call, for a run that times itself
    (in another process, or only part of what it does); ``metrics`` are further figures of
    the run (peak memory, time to the first result), each reported as a median too.
    """

    result: Any
    seconds: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Contender:
    """One thing to time: ``run`` does the work and returns its output, ``check`` judges it.

    ``unavailable`` says why the contender cannot run on this machine (an optional peer that
    is not installed): it is then reported as such, never run, and is not an error.
    """

    name: str
    run: Callable[[], Any]
    check: Callable[[Any], bool]
    unavailable: str | None = None


@dataclass
class Timing:
    """The timed runs of one contender, or why there are none."""

    seconds: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    unavailable: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.unavailable is None and bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def metric(self, name: str) -> float:
        return statistics.median(self.metrics[name])

    def spread(self) -> str:
        """``5 runs, 0.071-0.079 s``: how far the runs behind the median lie apart."""
        if not self.seconds:
            return "no timed runs"
        return f"{len(self.seconds)} runs, {min(self.seconds):.3f}-{max(self.seconds):.3f} s"


def thread_count() -> int | None:
    """Threads of this process, native ones included (Linux only; None elsewhere)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def quiesce(timeout: float = QUIESCE_TIMEOUT) -> None:
    """Wait (untimed) until threads a previous run left ending are gone, up to ``timeout``.

    Peers end some helper threads after they return (mpire's, an executor's). A run started
    while one still exits would see a multi-threaded process, and pl.process's default start
    method ("auto") forks only in a single-threaded one: it would measure another start method.
    """
    deadline = time.perf_counter() + timeout
    while (count := thread_count()) is not None and count > 1:
        if time.perf_counter() > deadline:
            return  # a thread that stays: measured as it is, the scenario notes say how
        time.sleep(0.001)


def time_once(contender: Contender, settle: bool = True) -> tuple[float, Mapping[str, float]]:
    """One checked run: its wall time (or the time it reports) and its metrics.

    ``settle``: first wait for the threads of the previous run to end (``quiesce``).
    """
    if settle:
        quiesce()
    # Collect the previous run's garbage now, so that its cost does not land in this run.
    gc.collect()
    with guarded():
        start = time.perf_counter()
        output = contender.run()
        elapsed = time.perf_counter() - start
    metrics: Mapping[str, float] = {}
    if isinstance(output, Outcome):
        elapsed = output.seconds if output.seconds is not None else elapsed
        metrics = output.metrics
        output = output.result
    if not contender.check(output):
        raise WrongResult(f"result differs from the expected output ({describe(output)})")
    return elapsed, metrics


def describe(result: Any) -> str:
    """A few words on a wrong result, for its error message."""
    if isinstance(result, list):
        return f"got a list of {len(result):,} items"
    if isinstance(result, tuple) and len(result) <= 4:
        return f"got {result!r}"
    return f"got a {type(result).__name__}"


def measure(contenders: Sequence[Contender], repeat: int, settle: bool = True) -> dict[str, Timing]:
    """Warm every contender up once, then time ``repeat`` interleaved rounds of all of them.

    A contender that raises (or returns a wrong result) is dropped from later rounds and keeps
    the error instead of times. ``settle=False`` skips waiting for threads before each run,
    for a process whose threads stay (a Ray driver's: the wait would last its whole timeout).
    """
    timings = {c.name: Timing(unavailable=c.unavailable) for c in contenders}
    for round_number in range(repeat + 1):
        for contender in contenders:
            timing = timings[contender.name]
            if timing.error is not None or timing.unavailable is not None:
                continue
            try:
                elapsed, metrics = time_once(contender, settle)
            except Exception as exc:
                timing.error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
                continue
            if round_number == 0:  # the warm-up: imports, caches, fork servers
                continue
            timing.seconds.append(elapsed)
            for name, value in metrics.items():
                timing.metrics.setdefault(name, []).append(value)
    return timings


# -- checks -----------------------------------------------------------------------------------


def same_items(expected: Sequence[Any]) -> Callable[[Any], bool]:
    """Order-insensitive comparison: concurrent backends may reorder their output."""
    wanted = sorted(expected)
    return lambda result: isinstance(result, list) and sorted(result) == wanted


def equals(expected: Any) -> Callable[[Any], bool]:
    """Exact comparison, for results already reduced to a count or a checksum."""
    return lambda result: bool(result == expected)
