"""What a stage's options cost or hold to: ``rate``.

* ``rate``: 1,000 calls of ``identity`` through ``map(workers=4, rate=200)`` on each backend
  that runs calls at once, against the ideal time the rate allows: 4 calls at once, then one
  every 5 ms, ``(1000 - 4) / 200 = 4.98 s``. Too fast breaks the limit; too slow wastes it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pypeln as pl

from ..measure import Contender, measure, same_items
from ..options import Options
from ..results import PYPELN, Row, ScenarioResult, wall
from ..targets import RATE_BACKENDS
from ..workloads import identity
from .common import available_backends

RATE_CALLS = (1_000, 200)
RATE = 200.0  # calls per second
RATE_WORKERS = 4


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
    backends = [name for name in available_backends() if name in RATE_BACKENDS]
    contenders = [
        Contender(name, partial(rated, getattr(pl, name), calls), check) for name in backends
    ]
    timings = measure(contenders, options.repeat)
    for contender in contenders:
        row = Row.of(contender.name, PYPELN, "s", timings[contender.name], wall)
        result.rows.append(row.relate(ideal, ideal_name))
    result.spread_notes(timings)
    return result
