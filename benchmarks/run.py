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
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import pypeln as pl

KNOWN_BACKENDS: tuple[str, ...] = ("sync", "thread", "process", "task")

# Elements per run of the ``trivial`` scenario; slow backends may use fewer.
TRIVIAL_N: dict[str, int] = {"sync": 200_000, "thread": 200_000, "process": 20_000}
TRIVIAL_N_DEFAULT = 50_000

SLEEP_CALLS = 2_000
SLEEP_SECONDS = 0.01
SLEEP_WORKERS = 100
SLEEP_BACKENDS: tuple[str, ...] = ("thread",)


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
        raise WrongResult("result differs from the expected output")
    return elapsed


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


def pipeline_chain(module: ModuleType, n: int) -> list[int]:
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
        report.notes.append(spread_note(contender.name, timings[contender.name]))
    for n in sorted({trivial_n(name, options) for name in backends}, reverse=True):
        base = timings[baseline_name(n)]
        base_rate = None if base.error else n / base.median
        report.rows.append(rate_row(baseline_name(n), n, base, None, None))
        for name in backends:
            if trivial_n(name, options) == n:
                report.rows.append(
                    rate_row(name, n, timings[name], base_rate, TARGETS.get(("trivial", name)))
                )
    return report


def rate_row(
    name: str, n: int, timing: Timing, base_rate: float | None, target: Target | None
) -> Row:
    if timing.error is not None:
        return Row("trivial", name, "elements/s", None, None, target, timing.error)
    rate = n / timing.median
    ratio = 1.0 if base_rate is None else rate / base_rate
    return Row("trivial", name, "elements/s", rate, ratio, target)


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
        report.rows.append(wall_row(contender.name, timing, ideal, target))
        report.notes.append(spread_note(contender.name, timing))
    peer = timings["ThreadPoolExecutor.map"]
    for name in backends:
        if not timings[name].error and not peer.error:
            ratio = timings[name].median / peer.median
            report.notes.append(f"{name} wall / ThreadPoolExecutor.map wall: {ratio:.2f}x")
    return report


def wall_row(name: str, timing: Timing, ideal: float, target: Target | None) -> Row:
    if timing.error is not None:
        return Row("sleep", name, "s", None, None, target, timing.error)
    return Row("sleep", name, "s", timing.median, timing.median / ideal, target)


# -- output and entry point -------------------------------------------------------------------


SCENARIOS: dict[str, Callable[[Options], Report]] = {
    "trivial": trivial,
    "sleep": sleep,
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
        f"pypeln {pl.__version__}, backends {', '.join(available_backends())}"
    )


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
