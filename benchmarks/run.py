"""Throughput and latency benchmarks for pypeln's backends.

Run from the repository root (the package must be importable, e.g. the ``.venv``)::

    make bench
    python benchmarks/run.py
    python benchmarks/run.py --only trivial --n 50000 --repeat 3

Scenarios (see ``SCENARIOS``):

* ``trivial``: a 3-stage pipeline of cheap functions over ints (``map x+1 -> filter
  x%2==0 -> map x*2``, one worker per stage, unbounded queues) on every backend found in
  ``pl``, against a plain generator chain calling the same functions. It measures the
  per-element overhead of the runtime: elements/s and the ratio to the generator.
* ``sleep``: 2,000 calls of ``time.sleep(0.01)`` through ``pl.thread.map(workers=100)``.
  It measures scheduling overhead under blocking calls: wall time against the ideal
  ``2000 * 0.01 / 100 = 0.2 s``, with ``ThreadPoolExecutor(100).map`` as a peer.
* ``process-trivial``: the ``trivial`` pipeline on ``pl.process`` (its default start method,
  and ``using("forkserver")``) over 300,000 ints, against three chained one-process
  ``multiprocessing.Pool``s (``imap``, ``chunksize=1000``). It measures what moving elements
  between processes costs: elements/s and the ratio to the Pools.
* ``process-cpu``: 2,000 items of about 1 ms of pure Python each (a loop calibrated at run
  time) through ``pl.process.map``, ``workers=2`` against ``workers=1``: the speed-up, with
  ``Pool(2).map`` as a peer.
* ``process-latency``: one item through ``pl.process.map(workers=4)``, start to finish
  (starting and stopping 4 processes), against ``ProcessPoolExecutor(4)`` doing the same;
  with the default start method, ``using("forkserver")`` and ``using("fork")``.
* ``task-trivial``: the ``trivial`` pipeline on ``pl.task`` with ``async def`` functions
  (default loop and ``using("uvloop")``) over 200,000 ints, consumed with ``list()`` from sync
  code, against the generator chain of the plain functions and ``asyncio.run`` of chained
  async generators awaiting the async ones; ``pl.task`` with the plain functions (run in
  threads) for information.
* ``task-sleep``: 2,000 calls of ``await asyncio.sleep(0.01)`` through ``pl.task.map``:
  ``workers=100`` against the ideal 0.2 s (100 worker tasks of bare asyncio as a peer), and
  ``workers=0`` against ``asyncio.gather`` of all 2,000 calls; on the default loop and uvloop.

Every contender gets one untimed warm-up run, then ``--repeat`` timed runs
(``time.perf_counter``) interleaved with its baseline, so that both see the same machine
load; the median is reported. Every result is checked against the expected output, so a
broken pipeline reports an error, never a time. Each scenario prints a Markdown table.

To add a scenario, write a function ``(Options) -> Report`` and register it in
``SCENARIOS``. A backend appears on its own once ``pypeln`` exposes it (``KNOWN_BACKENDS``);
give it an element count in ``TRIVIAL_N`` and targets in ``TARGETS`` if it needs them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import Pool
from types import ModuleType
from typing import Any

import pypeln as pl

KNOWN_BACKENDS: tuple[str, ...] = ("sync", "thread", "process", "task")

# Elements per run of the ``trivial`` scenario; slow backends may use fewer.
TRIVIAL_N: dict[str, int] = {
    "sync": 200_000,
    "thread": 200_000,
    "process": 20_000,
    "task": 200_000,
}
TRIVIAL_N_DEFAULT = 50_000
# How a backend is labelled in the ``trivial`` and ``sleep`` tables, where it runs the plain
# functions: ``pl.task`` runs a plain ``f`` in worker threads beside its loop.
PLAIN_F_LABELS: dict[str, str] = {"task": "task (plain f: in threads)"}

SLEEP_CALLS = 2_000
SLEEP_SECONDS = 0.01
SLEEP_WORKERS = 100
SLEEP_BACKENDS: tuple[str, ...] = ("thread", "task")

# The ``process-*`` scenarios.
FORKSERVER = "forkserver"  # the start method measured next to pl.process's default
PROCESS_TRIVIAL_N = 300_000
POOL_CHUNKSIZE = 1_000
CPU_ITEMS = 2_000
CPU_SECONDS = 0.001  # pure Python per item, calibrated at run time
CPU_WORKERS = (1, 2)  # the first is the baseline
LATENCY_WORKERS = 4
LATENCY_MIN_REPEAT = 7

# The ``task-*`` scenarios.
UVLOOP = "uvloop"
TASK_TRIVIAL_N = 200_000
TASK_SLEEP_WORKERS = 100  # part (a); part (b) is workers=0: no limit


@dataclass(frozen=True)
class Options:
    """Command-line options shared by every scenario."""

    n: int | None
    repeat: int
    only: list[str]


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Bounds a result must meet; ``None`` means unbounded."""

    min_value: float | None = None
    max_value: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None

    def met(self, value: float, ratio: float) -> bool:
        checks = [
            self.min_value is None or value >= self.min_value,
            self.max_value is None or value <= self.max_value,
            self.min_ratio is None or ratio >= self.min_ratio,
            self.max_ratio is None or ratio <= self.max_ratio,
        ]
        return all(checks)

    def describe(self, unit: str) -> str:
        parts = []
        if self.min_value is not None:
            parts.append(f">= {format_value(self.min_value, unit)}")
        if self.max_value is not None:
            parts.append(f"<= {format_value(self.max_value, unit)}")
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.2f}x")
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:.2f}x")
        return " and ".join(parts)


TARGETS: dict[tuple[str, str], Target] = {
    ("trivial", "sync"): Target(min_value=1_000_000, min_ratio=0.20),
    ("trivial", "thread"): Target(min_value=250_000),
    ("sleep", "thread"): Target(max_ratio=1.2),
    ("process-trivial", "process"): Target(min_value=250_000, min_ratio=0.20),
    ("process-trivial", "process using('forkserver')"): Target(min_value=250_000, min_ratio=0.20),
    ("process-cpu", "process workers=2"): Target(min_ratio=1.9),
    ("process-latency", "process"): Target(max_ratio=2.0),
    ("process-latency", "process using('forkserver')"): Target(max_ratio=2.0),
    ("process-latency", "process using('fork')"): Target(max_ratio=2.0),
    ("task-trivial", "task"): Target(min_value=175_000),
    ("task-trivial", "task using('uvloop')"): Target(min_value=175_000),
    ("task-sleep", "task workers=100"): Target(max_ratio=1.10),
    ("task-sleep", "task using('uvloop') workers=100"): Target(max_ratio=1.10),
    ("task-sleep", "task workers=0"): Target(max_ratio=3.0),
    ("task-sleep", "task using('uvloop') workers=0"): Target(max_ratio=3.0),
}


# -- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a scenario's table."""

    scenario: str
    backend: str
    unit: str  # "elements/s" or "s"
    value: float | None  # None when the contender failed
    ratio: float | None
    target: Target | None = None
    error: str | None = None

    def cells(self) -> list[str]:
        value = "—" if self.value is None else format_value(self.value, self.unit)
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}x"
        target = "—" if self.target is None else self.target.describe(self.unit)
        return [self.scenario, self.backend, value, ratio, target, self.verdict()]

    def verdict(self) -> str:
        if self.error is not None:
            return f"ERROR: {self.error}"
        if self.target is None or self.value is None or self.ratio is None:
            return "—"
        return "met" if self.target.met(self.value, self.ratio) else "NOT MET"


@dataclass
class Report:
    """What a scenario returns: its table rows, what the ratio means, and free-form notes."""

    title: str
    ratio_meaning: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(row.error is not None for row in self.rows)


def format_value(value: float, unit: str) -> str:
    if unit == "elements/s":
        return f"{value:,.0f}/s"
    return f"{value:.3f} {unit}"


# -- timing -----------------------------------------------------------------------------------


class WrongResult(Exception):
    """A contender produced something other than the expected output."""


@dataclass
class Contender:
    """One thing to time: ``run`` does the work and returns its output, ``check`` judges it."""

    name: str
    run: Callable[[], Any]
    check: Callable[[Any], bool]


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_once(contender: Contender) -> float:
    gc.collect()
    start = time.perf_counter()
    result = contender.run()
    elapsed = time.perf_counter() - start
    if not contender.check(result):
        raise WrongResult(f"result differs from the expected output ({summary(result)})")
    return elapsed


def summary(result: Any) -> str:
    """A few words on a wrong result, for its error message."""
    if isinstance(result, list):
        return f"got a list of {len(result):,} items"
    return f"got a {type(result).__name__}"


def measure(contenders: Sequence[Contender], repeat: int) -> dict[str, Timing]:
    """Warm every contender up once, then time ``repeat`` interleaved rounds of all of them.

    A contender that raises (or returns a wrong result) is dropped from later rounds and keeps
    the error instead of times.
    """
    timings = {c.name: Timing() for c in contenders}
    for round_number in range(repeat + 1):
        for contender in contenders:
            timing = timings[contender.name]
            if timing.error is not None:
                continue
            try:
                elapsed = time_once(contender)
            except Exception as exc:
                timing.error = f"{type(exc).__name__}: {exc}"[:80]
                continue
            if round_number > 0:  # round 0 is the warm-up
                timing.seconds.append(elapsed)
    return timings


def spread_note(name: str, timing: Timing) -> str:
    if not timing.seconds:
        return f"{name}: no timings"
    fastest, slowest = min(timing.seconds), max(timing.seconds)
    return f"{name}: {len(timing.seconds)} runs, {fastest:.3f}-{slowest:.3f} s"


# -- backends ---------------------------------------------------------------------------------


def available_backends() -> list[str]:
    return [name for name in KNOWN_BACKENDS if hasattr(pl, name)]


def backend(name: str) -> ModuleType:
    module: ModuleType = getattr(pl, name)
    return module


# -- scenario: trivial ------------------------------------------------------------------------


def inc(x: int) -> int:
    return x + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def double(x: int) -> int:
    return x * 2


def generator_chain(n: int) -> list[int]:
    """The baseline: the same three functions chained with plain generators."""
    incremented = (inc(x) for x in range(n))
    evens = (x for x in incremented if is_even(x))
    return [double(x) for x in evens]


def pipeline_chain(module: Any, n: int) -> list[int]:
    """The pipeline: ``module`` is a backend, or an API such as ``pl.process.using(...)``."""
    stage = module.map(inc, range(n), workers=1, maxsize=0)
    stage = module.filter(is_even, stage, workers=1, maxsize=0)
    stage = module.map(double, stage, workers=1, maxsize=0)
    return list(stage)


def same_items(expected: list[int]) -> Callable[[Any], bool]:
    """Order-insensitive comparison: concurrent backends may reorder their output."""
    return lambda result: isinstance(result, list) and sorted(result) == expected


def trivial_n(name: str, options: Options) -> int:
    return options.n if options.n is not None else TRIVIAL_N.get(name, TRIVIAL_N_DEFAULT)


def baseline_name(n: int) -> str:
    return f"generator (n={n:,})"


def trivial_contenders(backends: Iterable[str], options: Options) -> list[Contender]:
    sizes = {name: trivial_n(name, options) for name in backends}
    contenders = []
    for n in sorted(set(sizes.values()), reverse=True):
        expected = generator_chain(n)
        check = same_items(expected)
        contenders.append(Contender(baseline_name(n), partial(generator_chain, n), check))
        for name, size in sizes.items():
            if size == n:
                contenders.append(Contender(name, partial(pipeline_chain, backend(name), n), check))
    return contenders


def trivial(options: Options) -> Report:
    backends = available_backends()
    contenders = trivial_contenders(backends, options)
    timings = measure(contenders, options.repeat)
    report = Report(
        title="trivial: map(x+1) -> filter(x%2==0) -> map(x*2), workers=1, maxsize=0",
        ratio_meaning="elements/s relative to a plain generator chain of the same functions, "
        "same n, same run",
    )
    for contender in contenders:
        label = PLAIN_F_LABELS.get(contender.name, contender.name)
        report.notes.append(spread_note(label, timings[contender.name]))
    for n in sorted({trivial_n(name, options) for name in backends}, reverse=True):
        base = timings[baseline_name(n)]
        base_rate = None if base.error else n / base.median
        report.rows.append(rate_row("trivial", baseline_name(n), n, base, base_rate, None))
        for name in backends:
            if trivial_n(name, options) == n:
                target = TARGETS.get(("trivial", name))
                label = PLAIN_F_LABELS.get(name, name)
                report.rows.append(rate_row("trivial", label, n, timings[name], base_rate, target))
    return report


def rate_row(
    scenario: str,
    name: str,
    n: int,
    timing: Timing,
    base_rate: float | None,
    target: Target | None,
) -> Row:
    """Elements/s of ``n`` elements, and the ratio to ``base_rate`` (None: the base failed)."""
    if timing.error is not None:
        return Row(scenario, name, "elements/s", None, None, target, timing.error)
    rate = n / timing.median
    ratio = None if base_rate is None else rate / base_rate
    return Row(scenario, name, "elements/s", rate, ratio, target)


# -- scenario: sleep --------------------------------------------------------------------------


def nap(x: int) -> int:
    time.sleep(SLEEP_SECONDS)
    return x


def executor_naps() -> list[int]:
    with ThreadPoolExecutor(SLEEP_WORKERS) as executor:
        return list(executor.map(nap, range(SLEEP_CALLS)))


def pipeline_naps(module: ModuleType) -> list[int]:
    return list(module.map(nap, range(SLEEP_CALLS), workers=SLEEP_WORKERS))


def sleep(options: Options) -> Report:
    ideal = SLEEP_CALLS * SLEEP_SECONDS / SLEEP_WORKERS
    expected = list(range(SLEEP_CALLS))
    backends = [name for name in available_backends() if name in SLEEP_BACKENDS]
    check = same_items(expected)
    contenders = [Contender("ThreadPoolExecutor.map", executor_naps, check)]
    for name in backends:
        contenders.append(Contender(name, partial(pipeline_naps, backend(name)), check))
    timings = measure(contenders, options.repeat)
    report = Report(
        title=f"sleep: {SLEEP_CALLS:,} x time.sleep({SLEEP_SECONDS}), workers={SLEEP_WORKERS}",
        ratio_meaning=f"wall time relative to the ideal {ideal:.3f} s "
        f"({SLEEP_CALLS} x {SLEEP_SECONDS} s / {SLEEP_WORKERS} workers)",
    )
    for contender in contenders:
        timing = timings[contender.name]
        target = TARGETS.get(("sleep", contender.name))
        label = PLAIN_F_LABELS.get(contender.name, contender.name)
        report.rows.append(wall_row("sleep", label, timing, ideal, target))
        report.notes.append(spread_note(label, timing))
    peer = timings["ThreadPoolExecutor.map"]
    for name in backends:
        if not timings[name].error and not peer.error:
            ratio = timings[name].median / peer.median
            label = PLAIN_F_LABELS.get(name, name)
            report.notes.append(f"{label} wall / ThreadPoolExecutor.map wall: {ratio:.2f}x")
    return report


def wall_row(
    scenario: str, name: str, timing: Timing, reference: float | None, target: Target | None
) -> Row:
    """Median wall time, and its ratio to ``reference`` seconds (None: the reference failed)."""
    if timing.error is not None:
        return Row(scenario, name, "s", None, None, target, timing.error)
    ratio = None if reference is None else timing.median / reference
    return Row(scenario, name, "s", timing.median, ratio, target)


# -- process scenarios: shared ----------------------------------------------------------------

PROCESS_FORKSERVER = f"process using('{FORKSERVER}')"
PROCESS_FORK = "process using('fork')"


def no_process_backend(report: Report) -> Report | None:
    """``report`` with a note saying why it is empty, if pypeln has no ``process`` backend."""
    if "process" in available_backends():
        return None
    report.notes.append("pypeln has no process backend: nothing measured")
    return report


def start_forkserver() -> None:
    """Start the fork server the way a pypeln program does: by running a pipeline on it.

    One fork server serves the whole program. Whoever starts it first decides what it
    preloads: pypeln has it import pypeln, so that workers do not. Had a baseline started it
    first, pypeln's workers would pay for importing pypeln, which no pypeln program sees.
    """
    list(pl.process.using(FORKSERVER).map(inc, [0]))


def worker_parent(x: int) -> int:
    """The pid of the process that started this worker: the pipeline's own under ``fork``."""
    return os.getppid()


def default_start_note() -> str:
    """How ``pl.process`` with its default start method starts workers in this process now."""
    forked = list(pl.process.map(worker_parent, [0])) == [os.getpid()]
    how = "forks them from this process" if forked else "starts them from a server or spawns them"
    return f"pl.process (default start method), checked before timing: {how}"


def median_ratio(timings: dict[str, Timing], name: str, reference: str) -> str | None:
    """``name``'s median wall time over ``reference``'s, as a note (None if either failed)."""
    timing, base = timings[name], timings[reference]
    if timing.error is not None or base.error is not None:
        return None
    return f"{name} wall / {reference} wall: {timing.median / base.median:.2f}x"


# -- scenario: process-trivial ----------------------------------------------------------------


def mark_even(x: int) -> tuple[bool, int]:
    """``is_even`` for a Pool stage, which cannot drop items: the verdict travels with ``x``."""
    return is_even(x), x


def pool_chain(n: int) -> list[int]:
    """The baseline of ``process-trivial``: three one-process Pools, each imap feeding the next.

    Pool has no filter, so the middle pool returns ``(keep, x)`` pairs and a generator in the
    parent drops the odd ones on their way into the third pool. Creating and terminating the
    pools is timed, as starting and stopping its processes is for pypeln.
    """
    with Pool(1) as first, Pool(1) as second, Pool(1) as third:
        incremented = first.imap(inc, range(n), chunksize=POOL_CHUNKSIZE)
        marked = second.imap(mark_even, incremented, chunksize=POOL_CHUNKSIZE)
        evens = (x for keep, x in marked if keep)
        return list(third.imap(double, evens, chunksize=POOL_CHUNKSIZE))


def process_trivial(options: Options) -> Report:
    n = options.n if options.n is not None else PROCESS_TRIVIAL_N
    pools = f"chained Pool(1) x 3, {multiprocessing.get_start_method()}"
    report = Report(
        title="process-trivial: map(x+1) -> filter(x%2==0) -> map(x*2) on pl.process, "
        "workers=1, maxsize=0",
        ratio_meaning=f"elements/s relative to three chained Pool(1).imap(chunksize="
        f"{POOL_CHUNKSIZE:,}) (multiprocessing's default start method), same n, same run; "
        "starting and stopping the processes is timed on both sides",
    )
    if no_process_backend(report):
        return report
    start_forkserver()
    report.notes.append(default_start_note())
    check = same_items(generator_chain(n))
    contenders = [
        Contender(pools, partial(pool_chain, n), check),
        Contender("process", partial(pipeline_chain, pl.process, n), check),
        Contender(
            PROCESS_FORKSERVER, partial(pipeline_chain, pl.process.using(FORKSERVER), n), check
        ),
    ]
    timings = measure(contenders, options.repeat)
    base = timings[pools]
    base_rate = None if base.error else n / base.median
    for contender in contenders:
        name = contender.name
        label = f"{name} (n={n:,})" if name == pools else name
        target = TARGETS.get(("process-trivial", name))
        report.rows.append(rate_row("process-trivial", label, n, timings[name], base_rate, target))
        report.notes.append(spread_note(name, timings[name]))
    return report


# -- scenario: process-cpu --------------------------------------------------------------------


CPU_PEER = f"Pool({CPU_WORKERS[-1]}).map"


def spin(loops: int, x: int) -> int:
    """CPU-bound work: ``loops`` iterations of pure Python, then ``x`` unchanged."""
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


def cpu_pipeline(module: ModuleType, loops: int, workers: int) -> list[int]:
    return list(module.map(partial(spin, loops), range(CPU_ITEMS), workers=workers))


def pool_spin(loops: int) -> list[int]:
    """The peer of ``process-cpu``: the same calls through ``Pool(2).map``.

    Its automatic chunks (a quarter of each process's share) leave it almost no cost per item.
    """
    with Pool(CPU_WORKERS[-1]) as pool:
        return pool.map(partial(spin, loops), range(CPU_ITEMS))


def process_cpu(options: Options) -> Report:
    report = Report(
        title=f"process-cpu: {CPU_ITEMS:,} x ~{CPU_SECONDS * 1000:g} ms of pure Python, "
        "pl.process.map workers=2 vs workers=1",
        ratio_meaning="elements/s relative to workers=1 in the same run (the speed-up); "
        f"{CPU_PEER} over the same calls shows what this machine allows",
    )
    if no_process_backend(report):
        return report
    report.notes.append(default_start_note())
    loops = calibrate_spin(CPU_SECONDS)
    item_seconds = statistics.median(time_spin(loops) for _ in range(5))
    check = same_items(list(range(CPU_ITEMS)))
    names = {workers: f"process workers={workers}" for workers in CPU_WORKERS}
    contenders = [
        Contender(names[workers], partial(cpu_pipeline, pl.process, loops, workers), check)
        for workers in CPU_WORKERS
    ]
    contenders.append(Contender(CPU_PEER, partial(pool_spin, loops), check))
    timings = measure(contenders, options.repeat)
    base = timings[names[CPU_WORKERS[0]]]
    base_rate = None if base.error else CPU_ITEMS / base.median
    ideal = CPU_ITEMS * item_seconds
    report.notes.append(
        f"calibration: {loops:,} loops per item, {item_seconds * 1000:.2f} ms in the parent "
        f"(median of 5); ideal wall time {ideal:.2f} s / workers"
    )
    for workers, name in names.items():
        timing = timings[name]
        target = TARGETS.get(("process-cpu", name))
        report.rows.append(rate_row("process-cpu", name, CPU_ITEMS, timing, base_rate, target))
        report.notes.append(spread_note(name, timing))
        if timing.error is None:
            report.notes.append(f"{name}: wall / ideal {timing.median * workers / ideal:.2f}x")
    peer = timings[CPU_PEER]
    report.rows.append(rate_row("process-cpu", CPU_PEER, CPU_ITEMS, peer, base_rate, None))
    report.notes.append(spread_note(CPU_PEER, peer))
    note = median_ratio(timings, names[CPU_WORKERS[-1]], CPU_PEER)
    if note is not None:
        report.notes.append(note)
    return report


# -- scenario: process-latency ----------------------------------------------------------------

EXECUTOR = "ProcessPoolExecutor"
EXECUTOR_FORKSERVER = f"ProcessPoolExecutor {FORKSERVER}"


def executor_one(start_method: str | None) -> list[int]:
    """One item through a fresh executor (``None``: multiprocessing's default start method)."""
    context = None if start_method is None else multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(LATENCY_WORKERS, mp_context=context) as executor:
        return list(executor.map(inc, [1]))


def pipeline_one(module: Any) -> list[int]:
    """One item through a fresh pipeline: start its workers, run, stop them."""
    return list(module.map(inc, [1], workers=LATENCY_WORKERS))


def process_latency(options: Options) -> Report:
    default_method = multiprocessing.get_start_method()
    report = Report(
        title=f"process-latency: 1 item through map(x+1), workers={LATENCY_WORKERS}, "
        "start to finish",
        ratio_meaning=f"wall time relative to ProcessPoolExecutor({LATENCY_WORKERS}) "
        f"(multiprocessing's default start method, {default_method} here), same run",
    )
    if no_process_backend(report):
        return report
    start_forkserver()
    report.notes.append(default_start_note())

    def check(result: Any) -> bool:
        return bool(result == [2])

    contenders = [
        Contender(EXECUTOR, partial(executor_one, None), check),
        Contender(EXECUTOR_FORKSERVER, partial(executor_one, FORKSERVER), check),
        Contender("process", partial(pipeline_one, pl.process), check),
        Contender(PROCESS_FORKSERVER, partial(pipeline_one, pl.process.using(FORKSERVER)), check),
        Contender(PROCESS_FORK, partial(pipeline_one, pl.process.using("fork")), check),
    ]
    timings = measure(contenders, max(options.repeat, LATENCY_MIN_REPEAT))
    base = timings[EXECUTOR]
    reference = None if base.error else base.median
    for contender in contenders:
        timing = timings[contender.name]
        target = TARGETS.get(("process-latency", contender.name))
        report.rows.append(wall_row("process-latency", contender.name, timing, reference, target))
        report.notes.append(spread_note(contender.name, timing))
    same_method = [(PROCESS_FORKSERVER, EXECUTOR_FORKSERVER)]
    if default_method == "fork":
        same_method.append((PROCESS_FORK, EXECUTOR))
    for name, peer in same_method:
        note = median_ratio(timings, name, peer)
        if note is not None:
            report.notes.append(f"same start method: {note}")
    return report


# -- task scenarios: shared -------------------------------------------------------------------

DEFAULT_LOOP = "asyncio"
TASK_UVLOOP = f"task using('{UVLOOP}')"


def loops() -> list[str]:
    """The event loops measured: asyncio's default, and uvloop if it is installed."""
    found = importlib.util.find_spec(UVLOOP) is not None
    return [DEFAULT_LOOP, UVLOOP] if found else [DEFAULT_LOOP]


def task_api(loop: str) -> tuple[str, Any]:
    """The name and the ``pl.task`` API whose runs consumed from sync code use ``loop``."""
    if loop == DEFAULT_LOOP:
        return "task", pl.task
    return TASK_UVLOOP, pl.task.using(loop)


def no_task_backend(report: Report) -> Report | None:
    """``report`` with a note saying why it is empty, if pypeln has no ``task`` backend."""
    if "task" in available_backends():
        return None
    report.notes.append("pypeln has no task backend: nothing measured")
    return report


def uvloop_note(report: Report) -> None:
    if UVLOOP not in loops():
        report.notes.append("uvloop is not installed: only asyncio's default loop measured")


def in_fresh_loop(loop: str, main: Callable[[], Coroutine[Any, Any, list[int]]]) -> list[int]:
    """``main()`` run to completion in a new event loop of kind ``loop``, closed afterwards."""
    if loop == UVLOOP:
        import uvloop

        result: list[int] = uvloop.run(main())
        return result
    return asyncio.run(main())


def ratio_note(timings: dict[str, Timing], name: str, reference: str) -> str | None:
    """``name``'s rate over ``reference``'s, as a note (None if either failed)."""
    timing, base = timings[name], timings[reference]
    if timing.error is not None or base.error is not None:
        return None
    return f"{name} elements/s / {reference} elements/s: {base.median / timing.median:.2f}x"


# -- scenario: task-trivial -------------------------------------------------------------------

ASYNC_GENERATORS = "asyncio.run(async generators)"
TASK_PLAIN_F = PLAIN_F_LABELS["task"]


async def ainc(x: int) -> int:
    return x + 1


async def ais_even(x: int) -> bool:
    return x % 2 == 0


async def adouble(x: int) -> int:
    return x * 2


async def incremented(xs: Iterable[int]) -> AsyncIterator[int]:
    for x in xs:
        yield await ainc(x)


async def evens(xs: AsyncIterable[int]) -> AsyncIterator[int]:
    async for x in xs:
        if await ais_even(x):
            yield x


async def doubled(xs: AsyncIterable[int]) -> list[int]:
    return [await adouble(x) async for x in xs]


def async_generator_chain(n: int) -> list[int]:
    """The asyncio baseline: the async functions awaited by chained async generators."""
    return asyncio.run(doubled(evens(incremented(range(n)))))


def async_pipeline_chain(module: Any, n: int) -> list[int]:
    """The ``trivial`` pipeline with the ``async def`` functions, consumed from sync code."""
    stage = module.map(ainc, range(n), workers=1, maxsize=0)
    stage = module.filter(ais_even, stage, workers=1, maxsize=0)
    stage = module.map(adouble, stage, workers=1, maxsize=0)
    return list(stage)


def task_trivial(options: Options) -> Report:
    n = options.n if options.n is not None else TASK_TRIVIAL_N
    generator = baseline_name(n)
    report = Report(
        title="task-trivial: map(ainc) -> filter(ais_even) -> map(adouble) on pl.task, "
        "async def functions, workers=1, maxsize=0, consumed with list() from sync code",
        ratio_meaning="elements/s relative to a plain generator chain of the plain functions, "
        f"same n, same run (the notes compare with {ASYNC_GENERATORS})",
    )
    if no_task_backend(report):
        return report
    uvloop_note(report)
    check = same_items(generator_chain(n))
    contenders = [
        Contender(generator, partial(generator_chain, n), check),
        Contender(ASYNC_GENERATORS, partial(async_generator_chain, n), check),
    ]
    for loop in loops():
        name, api = task_api(loop)
        contenders.append(Contender(name, partial(async_pipeline_chain, api, n), check))
    contenders.append(Contender(TASK_PLAIN_F, partial(pipeline_chain, pl.task, n), check))
    timings = measure(contenders, options.repeat)
    base = timings[generator]
    base_rate = None if base.error else n / base.median
    for contender in contenders:
        name = contender.name
        target = TARGETS.get(("task-trivial", name))
        report.rows.append(rate_row("task-trivial", name, n, timings[name], base_rate, target))
        report.notes.append(spread_note(name, timings[name]))
    for contender in contenders[2:]:
        note = ratio_note(timings, contender.name, ASYNC_GENERATORS)
        if note is not None:
            report.notes.append(note)
    report.notes.append(f"{TASK_PLAIN_F}: for information, no target (the plain functions)")
    return report


# -- scenario: task-sleep ---------------------------------------------------------------------


async def anap(x: int) -> int:
    await asyncio.sleep(SLEEP_SECONDS)
    return x


def task_naps(module: Any, workers: int) -> list[int]:
    return list(module.map(anap, range(SLEEP_CALLS), workers=workers))


async def gather_naps() -> list[int]:
    """The baseline of ``workers=0``: every call at once, in one ``gather``."""
    return list(await asyncio.gather(*(anap(x) for x in range(SLEEP_CALLS))))


async def drain(calls: Iterator[int], results: list[int]) -> None:
    for x in calls:
        results.append(await anap(x))


async def worker_task_naps(workers: int) -> list[int]:
    """The peer of ``workers=100``: ``workers`` tasks taking calls from one shared iterator."""
    calls = iter(range(SLEEP_CALLS))
    results: list[int] = []
    await asyncio.gather(*(drain(calls, results) for _ in range(workers)))
    return results


def gather_name(loop: str) -> str:
    return f"{loop}.run(gather of {SLEEP_CALLS:,})"


def worker_tasks_name(loop: str) -> str:
    return f"{loop}.run({TASK_SLEEP_WORKERS} worker tasks)"


def task_sleep(options: Options) -> Report:
    ideal = SLEEP_CALLS * SLEEP_SECONDS / TASK_SLEEP_WORKERS
    report = Report(
        title=f"task-sleep: {SLEEP_CALLS:,} x await asyncio.sleep({SLEEP_SECONDS}) through "
        f"pl.task.map, workers={TASK_SLEEP_WORKERS} and workers=0",
        ratio_meaning=f"workers={TASK_SLEEP_WORKERS} rows and their bare-asyncio peers: wall time "
        f"relative to the ideal {ideal:.3f} s ({SLEEP_CALLS} x {SLEEP_SECONDS} s / "
        f"{TASK_SLEEP_WORKERS}); gather rows and workers=0 rows: wall time relative to the "
        "gather on the same kind of loop, same run",
    )
    if no_task_backend(report):
        return report
    uvloop_note(report)
    check = same_items(list(range(SLEEP_CALLS)))
    bounded: list[tuple[str, str]] = []  # (pl.task contender, its bare-asyncio peer)
    unlimited: list[tuple[str, str]] = []  # (pl.task contender, its gather baseline)
    contenders = []
    for loop in loops():
        name, api = task_api(loop)
        pool = partial(worker_task_naps, TASK_SLEEP_WORKERS)
        limited = f"{name} workers={TASK_SLEEP_WORKERS}"
        contenders.append(Contender(limited, partial(task_naps, api, TASK_SLEEP_WORKERS), check))
        contenders.append(
            Contender(worker_tasks_name(loop), partial(in_fresh_loop, loop, pool), check)
        )
        contenders.append(
            Contender(gather_name(loop), partial(in_fresh_loop, loop, gather_naps), check)
        )
        contenders.append(Contender(f"{name} workers=0", partial(task_naps, api, 0), check))
        bounded.append((limited, worker_tasks_name(loop)))
        unlimited.append((f"{name} workers=0", gather_name(loop)))
    timings = measure(contenders, options.repeat)
    for name, peer in bounded:
        for row_name in (name, peer):
            target = TARGETS.get(("task-sleep", row_name))
            report.rows.append(wall_row("task-sleep", row_name, timings[row_name], ideal, target))
    for name, base in unlimited:
        gather = timings[base]
        reference = None if gather.error else gather.median
        for row_name in (base, name):
            target = TARGETS.get(("task-sleep", row_name))
            timing = timings[row_name]
            report.rows.append(wall_row("task-sleep", row_name, timing, reference, target))
    for contender in contenders:
        report.notes.append(spread_note(contender.name, timings[contender.name]))
    for name, peer in bounded + unlimited:
        note = median_ratio(timings, name, peer)
        if note is not None:
            report.notes.append(note)
    return report


# -- output and entry point -------------------------------------------------------------------


SCENARIOS: dict[str, Callable[[Options], Report]] = {
    "trivial": trivial,
    "sleep": sleep,
    "process-trivial": process_trivial,
    "process-cpu": process_cpu,
    "process-latency": process_latency,
    "task-trivial": task_trivial,
    "task-sleep": task_sleep,
}

HEADER = ["scenario", "backend", "elements/s or seconds", "ratio vs baseline", "target", "met"]


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [HEADER, ["---"] * len(HEADER), *(row.cells() for row in rows)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def print_report(report: Report) -> None:
    print(f"### {report.title}\n")
    print(f"Ratio: {report.ratio_meaning}.\n")
    print(markdown_table(report.rows))
    print()
    for note in report.notes:
        print(f"- {note}")
    print(flush=True)


def machine_line() -> str:
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    return (
        f"Machine: {platform.platform()}, {platform.python_implementation()} "
        f"{platform.python_version()}, cpu count {cpus} (usable {usable}), "
        f"pypeln {pl.__version__}{source_revision()}, backends {', '.join(available_backends())}"
    )


def source_revision() -> str:
    """`` at <commit>`` of the pypeln checkout measured (``-dirty``: uncommitted changes)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(pl.__file__)))
    try:
        described = subprocess.run(
            ["git", "-C", root, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" at {described.stdout.strip()}"


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="elements per run of element-count scenarios, for every backend "
        f"(default: per backend, {TRIVIAL_N})",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per contender")
    parser.add_argument(
        "--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS), help="scenarios"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or (args.n is not None and args.n < 1):
        parser.error("--n and --repeat must be >= 1")
    return Options(n=args.n, repeat=args.repeat, only=args.only)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    print(machine_line())
    print(f"Command: python {' '.join(sys.argv)} (repeat={options.repeat}, median reported)\n")
    failed = False
    for name in options.only:
        report = SCENARIOS[name](options)
        print_report(report)
        failed = failed or report.failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
