"""What bounds cost: the trivial pipeline with ``maxsize`` 1, 4, 64, 1024, the default (None:
a bound the plan sizes) and 0 on every stage.

``maxsize`` bounds everything that waits in front of a stage, the batches producers and
readers hold included, so a small bound means small hand-offs. ``bounded`` runs
``map(x+1) -> filter(x%2==0) -> map(x*2)`` over ``range(n)`` with ``workers=1`` and the same
``maxsize`` on every stage (the consumer's queue takes the last stage's) on ``thread``,
``task`` (with the ``async def`` functions of ``task-trivial``) and ``process``, and relates
each row to the same backend with ``maxsize=0``. The default and ``maxsize=0`` rows, whose
ratio has a target, run in interleaved rounds of their own, three times as many (with a
baseline checkout, its ``maxsize=0`` rows too).

With ``--baseline DIR`` (another checkout of pypeln, e.g. a git worktree of an earlier
commit), every row is run on that checkout too, in a child interpreter whose runs take part
in the same interleaved rounds, and each row is compared with its twin there.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from typing import Any

import pypeln as pl

from .. import legacy
from ..measure import CLOSE_CALL_ROUNDS, Contender, equals, measure, same_items
from ..options import Options
from ..peers import generator_chain
from ..results import EARLIER, PYPELN, Row, ScenarioResult, rate
from ..workloads import adouble, ainc, ais_even, checksum, double, inc, is_even
from .common import available_backends, default_start_note

BOUNDS: tuple[int | None, ...] = (1, 4, 64, 1024, None, 0)
BACKENDS = ("thread", "task", "process")
#: The rows whose ratio has a target "within noise": measured in rounds of their own.
PAIRED = (None, 0)
# Elements per run, (full, --quick): small bounds are slow, and a run stays near a second.
COUNTS = {
    1: (10_000, 2_000),
    4: (20_000, 4_000),
    64: (100_000, 10_000),
    1024: (200_000, 20_000),
    None: (200_000, 20_000),
    0: (200_000, 20_000),
}


def bounded_chain(module: Any, n: int, maxsize: int | None, asynchronous: bool) -> list[int]:
    """The trivial pipeline with ``maxsize`` on every stage (``async def`` functions if asked)."""
    fs = (ainc, ais_even, adouble) if asynchronous else (inc, is_even, double)
    stage = module.map(fs[0], range(n), workers=1, maxsize=maxsize)
    stage = module.filter(fs[1], stage, workers=1, maxsize=maxsize)
    stage = module.map(fs[2], stage, workers=1, maxsize=maxsize)
    return list(stage)


def row_name(backend: str, maxsize: int | None, label: str = "") -> str:
    name = "task (async f)" if backend == "task" else backend
    bound = "default" if maxsize is None else f"maxsize={maxsize}"
    return f"{name} {bound}" + (f" @ {label}" if label else "")


def bounded(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="bounded",
        title="bounded: map(x+1) -> filter(x%2==0) -> map(x*2), workers=1, maxsize on every "
        "stage, thread, task and process",
        baseline="the same backend with maxsize=0",
        ratio_meaning="elements/s relative to the same backend with maxsize=0 in the same run "
        "(a baseline checkout's row: to its own maxsize=0); the last column compares a row "
        "with its twin on the baseline checkout",
    )
    backends = [name for name in BACKENDS if name in available_backends()]
    if "process" in backends:
        result.notes.append(default_start_note())
    checkout = options.baseline
    why = None if checkout is None else legacy.checkout_problem(checkout)
    with ExitStack() as stack:
        server: legacy.LegacyServer | None = None
        if checkout is not None and why is None:
            try:
                server = stack.enter_context(legacy.CheckoutServer(checkout))
            except OSError as exc:
                why = f"its interpreter would not start: {exc}"
        label = server.label if server is not None else ""
        counts: dict[str, int] = {}
        contenders: list[Contender] = []
        paired: list[Contender] = []  # the default and maxsize=0 rows, measured apart
        for backend in backends:
            api = getattr(pl, backend)
            for maxsize in BOUNDS:
                n = counts[row_name(backend, maxsize)] = options.elements(*COUNTS[maxsize])
                run = partial(bounded_chain, api, n, maxsize, backend == "task")
                check = same_items(generator_chain(n))
                contender = Contender(row_name(backend, maxsize), run, check)
                (paired if maxsize in PAIRED else contenders).append(contender)
                # A baseline checkout's default may be another bound: its row would compare
                # unlike with like.
                if server is not None and maxsize is not None:
                    name = row_name(backend, maxsize, label)
                    counts[name] = n
                    asked = partial(server.run, backend, n, maxsize)
                    twin = Contender(name, asked, equals(checksum(generator_chain(n))))
                    # In the rounds of its twin here: the before/after of the trivial
                    # pipeline (maxsize=0) is a close call too.
                    (paired if maxsize in PAIRED else contenders).append(twin)
        timings = measure(contenders, options.repeat)
        timings.update(measure(paired, options.repeat * CLOSE_CALL_ROUNDS))
    for backend in backends:
        for labelled in ("", label) if label else ("",):
            kind = EARLIER if labelled else PYPELN
            rows = {
                maxsize: Row.of(
                    row_name(backend, maxsize, labelled),
                    kind,
                    "elements/s",
                    timings[row_name(backend, maxsize, labelled)],
                    rate(counts[row_name(backend, maxsize, labelled)]),
                )
                for maxsize in BOUNDS
                if row_name(backend, maxsize, labelled) in timings
            }
            for maxsize, row in rows.items():
                row.relate(rows[0].value, to=row_name(backend, 0, labelled))
                twin = timings.get(row_name(backend, maxsize, label)) if label else None
                if twin is not None and not labelled:
                    if twin.ok:
                        row.compare(label, counts[row_name(backend, maxsize, label)] / twin.median)
                result.rows.append(row)
    for name, n in counts.items():
        result.notes.append(f"{name}: n={n:,}, {timings[name].spread()}")
    if checkout is not None and why is not None:
        result.notes.append(f"baseline {checkout}: not measured, {why}")
    return result
