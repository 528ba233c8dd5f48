"""CPU-bound scaling on all cores: ``process-cpu``.

2,000 calls of ``spin``, a pure Python loop calibrated at start-up to take about 1 ms here,
through ``pl.process.map`` with ``workers=1`` and ``workers=N`` (N: the cores this process may
use), in the same rounds. The ratio is elements/s relative to ``workers=1``, i.e. the speed-up,
whose ceiling is N. ``Pool(N).map`` and mpire's ``WorkerPool(N).map`` over the same calls are
the peers: they show what the machine allows in that run, and ``Pool(1).map`` beside
``Pool(N).map`` gives the machine's own speed-up in the same rounds (on a shared virtual
machine it moves from run to run, and so does every figure here).
"""

from __future__ import annotations

import statistics
from functools import partial
from typing import Any

import pypeln as pl

from ..machine import usable_cores
from ..measure import Contender, Timing, measure, same_items
from ..options import Options
from ..peers import missing, mpire_spin, pool_spin
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, rate
from ..targets import scaling_target
from ..workloads import calibrate_spin, spin, time_spin
from .common import default_start_note, lacks_backend

CPU_ITEMS = (2_000, 300)
CPU_SECONDS = 0.001  # of pure Python per item, calibrated at run time


def cores() -> int:
    """The workers of the parallel row: every usable core, and at least 2 to scale at all."""
    return max(2, usable_cores())


def add_pool_ceiling(
    result: ScenarioResult, pool: Row, single: str, timing: Timing, items: int, baseline: Row
) -> None:
    """Add the row of ``single`` (a one-process pool, timed by ``timing``) and compare the
    ``pool`` row with it: the speed-up plain processes get on this machine in the same rounds,
    the ceiling of the pipeline's."""
    row = Row.of(single, PEER, "elements/s", timing, rate(items))
    result.rows.append(row.relate(baseline.value))
    pool.compare(single, row.value)


def cpu_pipeline(module: Any, loops: int, items: int, workers: int) -> list[int]:
    return list(module.map(partial(spin, loops), range(items), workers=workers))


def process_cpu(options: Options) -> ScenarioResult:
    items = options.pick(*CPU_ITEMS)
    n = cores()
    serial, parallel = "process workers=1", f"process workers={n}"
    pool, mpire, single = f"Pool({n}).map", f"mpire WorkerPool({n}).map", "Pool(1).map"
    result = ScenarioResult(
        name="process-cpu",
        title=f"process-cpu: {items:,} x ~{CPU_SECONDS * 1000:g} ms of pure Python, "
        f"pl.process.map workers={n} vs workers=1",
        baseline=serial,
        ratio_meaning=f"elements/s relative to workers=1 in the same run (the speed-up; at most "
        f"{n}x on {n} cores); {pool} and {mpire} over the same calls show what this machine "
        f"allows, and {pool} over {single} is its own speed-up in the same rounds",
    )
    if lacks_backend(result, "process"):
        return result
    result.notes.append(default_start_note())
    loops = calibrate_spin(CPU_SECONDS)
    item_seconds = statistics.median(time_spin(loops) for _ in range(5))
    check = same_items(list(range(items)))
    contenders = [
        Contender(serial, partial(cpu_pipeline, pl.process, loops, items, 1), check),
        Contender(parallel, partial(cpu_pipeline, pl.process, loops, items, n), check),
        Contender(pool, partial(pool_spin, loops, items, n), check),
        Contender(single, partial(pool_spin, loops, items, 1), check),
        Contender(mpire, partial(mpire_spin, loops, items, n), check, missing("mpire")),
    ]
    timings = measure(contenders, options.repeat)
    kinds = {serial: BASELINE, parallel: PYPELN, pool: PEER, mpire: PEER}
    rows = {
        name: Row.of(name, kind, "elements/s", timings[name], rate(items))
        for name, kind in kinds.items()
    }
    for row in rows.values():
        result.rows.append(row.relate(rows[serial].value))
    rows[parallel].compare(pool, rows[pool].value).compare(mpire, rows[mpire].value)
    add_pool_ceiling(result, rows[pool], single, timings[single], items, rows[serial])
    ideal = items * item_seconds
    result.notes.append(
        f"calibration: {loops:,} loops per item, {item_seconds * 1000:.2f} ms in the parent "
        f"(median of 5); ideal wall time {ideal:.2f} s / workers; the target, "
        f"{scaling_target(n):.2f}x, is 95% of the ideal speed-up (1.9x on 2 cores)"
    )
    result.spread_notes(timings)
    return result
