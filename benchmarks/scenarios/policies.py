"""What a stage's options cost or hold to: ``ordered``, ``rate``, ``batch``.

* ``ordered``: 1,000,000 items through ``pl.thread.map(jitter, workers=8, maxsize=1000)``,
  where one call in 100 sleeps a random time up to 2 ms, so that results finish out of
  order; with ``ordered=True`` against without, in the same rounds: the elements/s, the time
  to the first item, and the peak memory growth of the process while the items stream by
  (the consumer keeps none of them).

* ``rate``: 1,000 calls of ``identity`` through ``map(workers=4, rate=200)`` on each backend
  that runs calls at once, against the ideal time the rate allows: 4 calls at once, then one
  every 5 ms, ``(1000 - 4) / 200 = 4.98 s``. Too fast breaks the limit; too slow wastes it.
* ``batching``: the trivial pipeline (``map(inc) -> filter(is_even) -> map(double)``) on
  ``pl.thread``, ``pl.process`` and ``pl.task``, with and without a ``batch(100)`` stage
  at its end, in the same rounds (three times the usual number: the target is a ratio
  within noise): the elements/s of the batched one (its items counted) over the plain
  one's.
"""

from __future__ import annotations

import random
import time
from functools import partial
from typing import Any

import pypeln as pl

from ..measure import CLOSE_CALL_ROUNDS, Contender, Outcome, equals, measure, same_items
from ..options import Options
from ..peers import missing
from ..results import BASELINE, PYPELN, Row, ScenarioResult, metric, wall
from ..results import rate as rate_of
from ..sampler import TreeSampler
from ..targets import POLICY_BACKENDS
from ..workloads import identity
from .cluster import FIRST
from .common import available_backends
from .memory import INTERVAL as MEMORY_INTERVAL
from .memory import release_memory
from .overhead import pipeline_chain, trivial_stage

RATE_CALLS = (1_000, 200)
RATE = 200.0  # calls per second
RATE_WORKERS = 4
BATCHING_N = (200_000, 20_000)
ORDERED_N = (1_000_000, 50_000)
BATCH_SIZE = 100


def jitter(x: int) -> int:
    """``x``, one time in 100 after a random sleep of up to 2 ms."""
    if x % 100 == 0:
        time.sleep(random.random() * 0.002)
    return x


def stream_ordered(sampler: TreeSampler, n: int, ordered: bool) -> Outcome:
    """Run the map (``ordered`` or not) and read its items without keeping them: the count,
    and whether they came in order (required of the ordered one only)."""
    release_memory()
    sampler.start()
    begin = time.perf_counter()
    first = None
    count, last, in_order = 0, -1, True
    stage = pl.thread.map(jitter, range(n), workers=8, maxsize=1000, ordered=ordered)
    for x in stage:
        first = first or time.perf_counter()
        in_order = in_order and x > last
        last, count = x, count + 1
    end = time.perf_counter()
    metrics = {**sampler.stop(), FIRST: (first or end) - begin}
    return Outcome((count, in_order or not ordered), end - begin, metrics)


def ordered_stream(options: Options) -> ScenarioResult:
    n = options.pick(*ORDERED_N)
    plain, ordered = "thread workers=8", "thread workers=8, ordered=True"
    result = ScenarioResult(
        name="ordered",
        title=f"ordered: {n:,} items through map(jitter, workers=8, maxsize=1000), with and "
        "without ordered=True",
        baseline=plain,
        ratio_meaning="elements/s, and peak memory growth of the process while the items "
        "stream by (the consumer keeps none), relative to the same map without ordered=True "
        "in the same rounds",
    )
    why = missing("psutil")
    if why is not None:
        result.notes.append(f"not measured: {why}")
        return result
    with TreeSampler(MEMORY_INTERVAL) as sampler:
        contenders = [
            Contender(plain, partial(stream_ordered, sampler, n, False), equals((n, True))),
            Contender(ordered, partial(stream_ordered, sampler, n, True), equals((n, True))),
        ]
        timings = measure(contenders, options.repeat)
    base = Row.of(plain, BASELINE, "elements/s", timings[plain], rate_of(n))
    row = Row.of(ordered, PYPELN, "elements/s", timings[ordered], rate_of(n))
    result.rows += [base.relate(base.value), row.relate(base.value)]
    base_mb = Row.of(f"{plain}: memory", BASELINE, "MB", timings[plain], metric("growth_mb"))
    row_mb = Row.of(f"{ordered}: memory", PYPELN, "MB", timings[ordered], metric("growth_mb"))
    result.rows += [base_mb.relate(base_mb.value), row_mb.relate(base_mb.value)]
    base_first = Row.of(f"{plain}: first item", BASELINE, "s", timings[plain], metric(FIRST))
    row_first = Row.of(f"{ordered}: first item", PYPELN, "s", timings[ordered], metric(FIRST))
    result.rows += [base_first.relate(base_first.value), row_first.relate(base_first.value)]
    result.spread_notes(timings)
    return result


def batched_chain(module: Any, n: int) -> list[int]:
    """``pipeline_chain`` with a batch stage at its end; its items, unbatched here."""
    batches = module.batch(BATCH_SIZE, trivial_stage(module, n))
    return [x for batch in batches for x in batch]


def batching(options: Options) -> ScenarioResult:
    n = options.pick(*BATCHING_N)
    result = ScenarioResult(
        name="batching",
        title=f"batching: {n:,} items through the trivial pipeline, then batch({BATCH_SIZE})",
        baseline="the same pipeline without batch, per backend",
        ratio_meaning="elements/s relative to the same backend's pipeline without the batch "
        "stage, in the same rounds",
    )
    check = same_items(pipeline_chain(pl.sync, n))
    contenders = []
    backends = [name for name in available_backends() if name in POLICY_BACKENDS]
    for name in backends:
        module = getattr(pl, name)
        contenders.append(Contender(name, partial(pipeline_chain, module, n), check))
        contenders.append(Contender(f"{name} + batch", partial(batched_chain, module, n), check))
    timings = measure(contenders, options.repeat * CLOSE_CALL_ROUNDS)
    for name in backends:
        plain = Row.of(name, BASELINE, "elements/s", timings[name], rate_of(n))
        result.rows.append(plain.relate(plain.value))
        row = Row.of(
            f"{name} + batch", PYPELN, "elements/s", timings[f"{name} + batch"], rate_of(n)
        )
        result.rows.append(row.relate(plain.value, name))
    result.spread_notes(timings)
    return result


def rated(module: Any, calls: int) -> list[int]:
    return list(module.map(identity, range(calls), workers=RATE_WORKERS, rate=RATE))


def rate(options: Options) -> ScenarioResult:
    calls = options.pick(*RATE_CALLS)
    ideal = (calls - RATE_WORKERS) / RATE
    ideal_name = f"ideal {ideal:.2f} s"
    result = ScenarioResult(
        name="rate",
        title=f"rate: {calls:,} calls, map(workers={RATE_WORKERS}, rate={RATE:g})",
        baseline=ideal_name,
        ratio_meaning=f"wall time relative to the ideal {ideal:.2f} s that the rate allows "
        f"({RATE_WORKERS} calls at once, then one every {1000 / RATE:g} ms): below 1.00x "
        "the limit was broken, above it the rate was not used in full",
    )
    check = same_items(list(range(calls)))
    backends = [name for name in available_backends() if name in POLICY_BACKENDS]
    contenders = [
        Contender(name, partial(rated, getattr(pl, name), calls), check) for name in backends
    ]
    timings = measure(contenders, options.repeat)
    for contender in contenders:
        row = Row.of(contender.name, PYPELN, "s", timings[contender.name], wall)
        result.rows.append(row.relate(ideal, ideal_name))
    result.spread_notes(timings)
    return result
