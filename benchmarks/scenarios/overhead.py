"""Per-item overhead: the 3-stage trivial pipeline, ``map(x+1) -> filter(x%2==0) -> map(x*2)``.

The functions do almost nothing, so the time is almost all machinery: hand-offs between
stages, numbering, call wrappers, pickling across processes.

* ``trivial``: every backend, and every peer (chained ``Pool(1).imap`` with chunksize 1 and
  1000, chained ``ThreadPoolExecutor(1).map``, chained mpire pools, and the pypeln 0.4.9 release
  in its own virtualenv), against a plain generator chain of the same functions.
* ``process-trivial``: ``pl.process`` (default start method and forkserver) against the chained
  Pools with chunksize 1000, the comparison issue 3 set its target on.
* ``task-trivial``: ``pl.task`` with ``async def`` functions (default loop and uvloop) against
  the generator chain and chained async generators.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

import pypeln as pl

from .. import legacy
from ..measure import Contender, equals, measure, same_items
from ..options import Options
from ..peers import (
    async_generator_chain,
    executor_chain,
    generator_chain,
    missing,
    mpire_chain,
    pool_chain,
)
from ..results import BASELINE, LEGACY, PEER, PYPELN, Row, ScenarioResult, rate
from ..workloads import adouble, ainc, ais_even, checksum, double, inc, is_even
from .common import (
    FORKSERVER,
    available_backends,
    default_start_note,
    lacks_backend,
    loops,
    start_forkserver,
    task_api,
    uvloop_note,
)

TRIVIAL_N = (200_000, 20_000)  # (full run, --quick), for the fast contenders
POOL_CHUNKSIZE = 1_000
GENERATOR = "generator chain"
TASK_PLAIN_F = "task (plain f: in threads)"
TASK_ASYNC_F = "task (async f)"
POOL_1000 = f"Pool(1).imap x3, chunksize={POOL_CHUNKSIZE}"
POOL_1 = "Pool(1).imap x3, chunksize=1"
EXECUTOR = "ThreadPoolExecutor(1).map x3"
MPIRE = f"mpire WorkerPool(1).imap x3, chunk_size={POOL_CHUNKSIZE}"
# Element counts of the contenders slower than TRIVIAL_N allows, (full, quick): a run of each
# stays near a second, and its rate is compared with the generator's over TRIVIAL_N.
SLOW_N: dict[str, tuple[int, int]] = {
    POOL_1: (5_000, 1_000),
    EXECUTOR: (10_000, 2_000),
    MPIRE: (30_000, 5_000),
    "sync@0.4.9": (50_000, 5_000),
    "thread@0.4.9": (10_000, 1_000),
    "process@0.4.9": (1_000, 500),
    "task@0.4.9": (5_000, 1_000),
}
# The short names of peers in the "compared with" column, and whom each backend is compared to.
SHORT = {POOL_1000: "Pool.imap(1000)", POOL_1: "Pool.imap(1)", EXECUTOR: "TPE.map", MPIRE: "mpire"}
PEERS_OF = {
    "thread": [EXECUTOR],
    "process": [POOL_1000, POOL_1, MPIRE],
}
LEGACY_OF = {"sync": "sync", "thread": "thread", "process": "process", TASK_ASYNC_F: "task"}


def trivial_stage(module: Any, n: int) -> Any:
    """The pipeline: ``module`` is a backend, or an API such as ``pl.process.using(...)``."""
    stage = module.map(inc, range(n), workers=1, maxsize=0)
    stage = module.filter(is_even, stage, workers=1, maxsize=0)
    return module.map(double, stage, workers=1, maxsize=0)


def pipeline_chain(module: Any, n: int) -> list[int]:
    return list(trivial_stage(module, n))


def async_pipeline_chain(module: Any, n: int) -> list[int]:
    """The pipeline with the ``async def`` twins of the functions, consumed from sync code."""
    stage = module.map(ainc, range(n), workers=1, maxsize=0)
    stage = module.filter(ais_even, stage, workers=1, maxsize=0)
    stage = module.map(adouble, stage, workers=1, maxsize=0)
    return list(stage)


def legacy_name(backend: str) -> str:
    return f"pypeln {legacy.VERSION} {backend}"


class TrivialPlan:
    """The contenders of ``trivial`` with their element counts and kinds.

    Without a ``server`` (0.4.9 could not be installed or started: ``why``), the 0.4.9 rows
    are listed as unavailable with that reason.
    """

    def __init__(self, options: Options, server: legacy.LegacyServer | None, why: str | None):
        self.options = options
        self.n = options.elements(*TRIVIAL_N)
        self.counts: dict[str, int] = {}
        self.kinds: dict[str, str] = {}
        self.contenders: list[Contender] = []
        self.add(GENERATOR, BASELINE, self.n, partial(generator_chain, self.n))
        for name in available_backends():
            label = TASK_PLAIN_F if name == "task" else name
            self.add(label, PYPELN, self.n, partial(pipeline_chain, getattr(pl, name), self.n))
        if "task" in available_backends():
            self.add(TASK_ASYNC_F, PYPELN, self.n, partial(async_pipeline_chain, pl.task, self.n))
        self.add(POOL_1000, PEER, self.n, partial(pool_chain, self.n, POOL_CHUNKSIZE))
        self.add_slow(POOL_1, PEER, lambda n: partial(pool_chain, n, 1))
        self.add_slow(EXECUTOR, PEER, lambda n: partial(executor_chain, n))
        self.add_slow(
            MPIRE, PEER, lambda n: partial(mpire_chain, n, POOL_CHUNKSIZE), missing("mpire")
        )
        for backend in ("sync", "thread", "process", "task"):
            n = self.slow_n(f"{backend}@{legacy.VERSION}")
            run = partial(server.run, backend, n) if server else partial(list, ())
            expected = checksum(generator_chain(n))
            self.add(legacy_name(backend), LEGACY, n, run, why, equals(expected))

    def slow_n(self, key: str) -> int:
        """The element count of a slow contender (``--n`` and ``--quick`` apply)."""
        return self.options.elements(*SLOW_N.get(key, TRIVIAL_N))

    def add_slow(
        self,
        name: str,
        kind: str,
        make: Callable[[int], Callable[[], Any]],
        unavailable: str | None = None,
    ) -> None:
        """A contender of ``SLOW_N``: ``make(n)`` is its run over its own element count."""
        n = self.slow_n(name)
        self.add(name, kind, n, make(n), unavailable)

    def add(
        self,
        name: str,
        kind: str,
        n: int,
        run: Callable[[], Any],
        unavailable: str | None = None,
        check: Callable[[Any], bool] | None = None,
    ) -> None:
        """A contender over ``n`` elements, checked against the generator's output by default."""
        self.counts[name] = n
        self.kinds[name] = kind
        check = check or same_items(generator_chain(n))
        self.contenders.append(Contender(name, run, check, unavailable))


def trivial(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="trivial",
        title="trivial: map(x+1) -> filter(x%2==0) -> map(x*2), workers=1, maxsize=0, "
        "every backend and peer",
        baseline=GENERATOR,
        ratio_meaning="elements/s relative to a plain generator chain of the same functions "
        "in the same run; under the table, each backend against its peers",
    )
    if "process" in available_backends():
        result.notes.append(default_start_note())
    why = legacy.ensure_venv()
    with ExitStack() as stack:
        server = None
        if why is None:
            try:
                server = stack.enter_context(legacy.LegacyServer())
            except OSError as exc:
                why = f"its interpreter would not start: {exc}"
        plan = TrivialPlan(options, server, why)
        timings = measure(plan.contenders, options.repeat)
    rows = {
        name: Row.of(name, plan.kinds[name], "elements/s", timing, rate(plan.counts[name]))
        for name, timing in timings.items()
    }
    base = rows[GENERATOR].value
    for name, row in rows.items():
        row.relate(base)
        for peer in PEERS_OF.get(name, []):
            row.compare(SHORT[peer], rows[peer].value)
        if name in LEGACY_OF:
            row.compare(legacy.VERSION, rows[legacy_name(LEGACY_OF[name])].value)
        result.rows.append(row)
        timing = timings[name]
        if timing.unavailable is None:
            result.notes.append(f"{name}: n={plan.counts[name]:,}, {timing.spread()}")
    if why is not None:
        result.notes.append(f"pypeln {legacy.VERSION}: not measured, {why}")
    result.notes.append(
        f"{TASK_PLAIN_F}: pl.task runs plain functions in worker threads beside its loop; "
        f"{TASK_ASYNC_F} is the pipeline of task-trivial"
    )
    result.notes.append(
        f"{EXECUTOR}: Executor.map submits its whole input before returning, so its stages "
        "run one after the other"
    )
    return result


# -- process-trivial --------------------------------------------------------------------------

PROCESS_TRIVIAL_N = (300_000, 30_000)
PROCESS_FORKSERVER = f"process using('{FORKSERVER}')"


def process_trivial(options: Options) -> ScenarioResult:
    n = options.elements(*PROCESS_TRIVIAL_N)
    pools = f"chained Pool(1) x 3, {multiprocessing.get_start_method()}"
    result = ScenarioResult(
        name="process-trivial",
        title="process-trivial: map(x+1) -> filter(x%2==0) -> map(x*2) on pl.process, "
        "workers=1, maxsize=0",
        baseline=pools,
        ratio_meaning=f"elements/s relative to three chained Pool(1).imap(chunksize="
        f"{POOL_CHUNKSIZE:,}) (multiprocessing's default start method), same n, same run; "
        "starting and stopping the processes is timed on both sides",
    )
    if lacks_backend(result, "process"):
        return result
    start_forkserver()
    result.notes.append(default_start_note())
    check = same_items(generator_chain(n))
    contenders = [
        Contender(pools, partial(pool_chain, n, POOL_CHUNKSIZE), check),
        Contender("process", partial(pipeline_chain, pl.process, n), check),
        Contender(
            PROCESS_FORKSERVER, partial(pipeline_chain, pl.process.using(FORKSERVER), n), check
        ),
    ]
    timings = measure(contenders, options.repeat)
    base = Row.of(pools, BASELINE, "elements/s", timings[pools], rate(n))
    result.rows.append(base.relate(base.value))
    for name in ("process", PROCESS_FORKSERVER):
        row = Row.of(name, PYPELN, "elements/s", timings[name], rate(n))
        result.rows.append(row.relate(base.value))
    result.notes.append(f"n={n:,} elements per run")
    result.spread_notes(timings)
    return result


# -- task-trivial -----------------------------------------------------------------------------

TASK_TRIVIAL_N = (200_000, 20_000)
ASYNC_GENERATORS = "asyncio.run(async generators)"


def task_trivial(options: Options) -> ScenarioResult:
    n = options.elements(*TASK_TRIVIAL_N)
    result = ScenarioResult(
        name="task-trivial",
        title="task-trivial: map(ainc) -> filter(ais_even) -> map(adouble) on pl.task, "
        "async def functions, workers=1, maxsize=0, consumed with list() from sync code",
        baseline=GENERATOR,
        ratio_meaning="elements/s relative to a plain generator chain of the plain functions, "
        f"same n, same run; under the table, against {ASYNC_GENERATORS}",
    )
    if lacks_backend(result, "task"):
        return result
    uvloop_note(result)
    check = same_items(generator_chain(n))
    contenders = [
        Contender(GENERATOR, partial(generator_chain, n), check),
        Contender(ASYNC_GENERATORS, partial(async_generator_chain, n), check),
    ]
    for loop in loops():
        name, api = task_api(loop)
        contenders.append(Contender(name, partial(async_pipeline_chain, api, n), check))
    contenders.append(Contender(TASK_PLAIN_F, partial(pipeline_chain, pl.task, n), check))
    timings = measure(contenders, options.repeat)
    base = Row.of(GENERATOR, BASELINE, "elements/s", timings[GENERATOR], rate(n))
    asyncio_row = Row.of(ASYNC_GENERATORS, PEER, "elements/s", timings[ASYNC_GENERATORS], rate(n))
    for contender in contenders:
        if contender.name == GENERATOR:
            row = base
        elif contender.name == ASYNC_GENERATORS:
            row = asyncio_row
        else:
            row = Row.of(contender.name, PYPELN, "elements/s", timings[contender.name], rate(n))
            row.compare(ASYNC_GENERATORS, asyncio_row.value)
        result.rows.append(row.relate(base.value))
    result.notes.append(f"n={n:,} elements per run")
    result.spread_notes(timings)
    result.notes.append(f"{TASK_PLAIN_F}: for information, no target (the plain functions)")
    return result
