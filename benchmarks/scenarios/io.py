"""I/O latency hiding: many waiting calls, overlapped by threads or by asyncio tasks.

* ``sleep``: 2,000 calls of ``time.sleep(0.01)`` through ``pl.thread.map(workers=100)`` (and
  ``pl.task`` with the plain function, which it runs in threads), against the ideal
  ``2000 x 0.01 s / 100 = 0.2 s``, with ``ThreadPoolExecutor(100).map`` as the peer.
* ``task-sleep``: 2,000 calls of ``await asyncio.sleep(0.01)`` through ``pl.task.map``:
  ``workers=100`` against the ideal 0.2 s, with 100 bare worker tasks, ``asyncio.gather``
  behind a ``Semaphore(100)`` and aiostream's ``stream.map(task_limit=100)`` as peers; and
  ``workers=0`` (no limit) against one ``asyncio.gather`` of all the calls, with aiostream
  unlimited as a peer. Every contender runs on asyncio's default loop and on uvloop.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pypeln as pl

from ..measure import Contender, measure, same_items
from ..options import Options
from ..peers import (
    aiostream_naps,
    executor_naps,
    gather_naps,
    in_fresh_loop,
    missing,
    semaphore_naps,
    worker_task_naps,
)
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, wall
from ..workloads import SLEEP_SECONDS, anap, nap
from .common import available_backends, lacks_backend, loops, task_api, uvloop_note

SLEEP_CALLS = (2_000, 500)
WORKERS = 100
SLEEP_BACKENDS = ("thread", "task")
PLAIN_F_LABELS = {"task": "task (plain f: in threads)"}
EXECUTOR = f"ThreadPoolExecutor({WORKERS}).map"


def pipeline_naps(module: Any, calls: int) -> list[int]:
    return list(module.map(nap, range(calls), workers=WORKERS))


def task_naps(module: Any, calls: int, workers: int) -> list[int]:
    return list(module.map(anap, range(calls), workers=workers))


def sleep(options: Options) -> ScenarioResult:
    calls = options.pick(*SLEEP_CALLS)
    ideal = calls * SLEEP_SECONDS / WORKERS
    ideal_name = f"ideal {ideal:.3f} s"
    result = ScenarioResult(
        name="sleep",
        title=f"sleep: {calls:,} x time.sleep({SLEEP_SECONDS}), workers={WORKERS}",
        baseline=ideal_name,
        ratio_meaning=f"wall time relative to the ideal {ideal:.3f} s ({calls:,} x "
        f"{SLEEP_SECONDS} s / {WORKERS} workers); under the table, against {EXECUTOR}",
    )
    check = same_items(list(range(calls)))
    backends = [name for name in available_backends() if name in SLEEP_BACKENDS]
    contenders = [Contender(EXECUTOR, partial(executor_naps, calls, WORKERS), check)]
    for name in backends:
        label = PLAIN_F_LABELS.get(name, name)
        contenders.append(Contender(label, partial(pipeline_naps, getattr(pl, name), calls), check))
    timings = measure(contenders, options.repeat)
    peer = Row.of(EXECUTOR, PEER, "s", timings[EXECUTOR], wall).relate(ideal, ideal_name)
    result.rows.append(peer)
    for contender in contenders[1:]:
        row = Row.of(contender.name, PYPELN, "s", timings[contender.name], wall)
        result.rows.append(row.relate(ideal, ideal_name).compare(EXECUTOR, peer.value))
    result.spread_notes(timings)
    return result


# -- task-sleep -------------------------------------------------------------------------------


def task_sleep(options: Options) -> ScenarioResult:
    calls = options.pick(*SLEEP_CALLS)
    ideal = calls * SLEEP_SECONDS / WORKERS
    ideal_name = f"ideal {ideal:.3f} s"
    result = ScenarioResult(
        name="task-sleep",
        title=f"task-sleep: {calls:,} x await asyncio.sleep({SLEEP_SECONDS}) through "
        f"pl.task.map, workers={WORKERS} and workers=0",
        baseline=ideal_name,
        ratio_meaning=f"workers={WORKERS} rows and their peers: wall time relative to the ideal "
        f"{ideal:.3f} s ({calls:,} x {SLEEP_SECONDS} s / {WORKERS}); workers=0 rows and their "
        "peers: wall time relative to one gather of all the calls on the same kind of loop, "
        "same run",
    )
    if lacks_backend(result, "task"):
        return result
    uvloop_note(result)
    no_aio = missing("aiostream")
    check = same_items(list(range(calls)))
    contenders: list[Contender] = []
    # (row, its reference row or None for the ideal, its kind, the peers it is compared with:
    # (peer row, short name))
    layout: list[tuple[str, str | None, str, list[tuple[str, str]]]] = []

    def add(
        name: str, kind: str, run: Any, reference: str | None, why: str | None = None
    ) -> list[tuple[str, str]]:
        """Add a contender; returns the list of peers its row is to be compared with."""
        contenders.append(Contender(name, run, check, why))
        layout.append((name, reference, kind, []))
        return layout[-1][3]

    for loop in loops():
        task, api = task_api(loop)
        fresh = partial(in_fresh_loop, loop)
        gather = f"{loop}.run(gather of {calls:,})"
        bounded_peers = [
            (f"{WORKERS} worker tasks", worker_task_naps, None),
            (f"gather, Semaphore({WORKERS})", semaphore_naps, None),
            (f"aiostream task_limit={WORKERS}", aiostream_naps, no_aio),
        ]
        limited = partial(task_naps, api, calls, WORKERS)
        compared = add(f"{task} workers={WORKERS}", PYPELN, limited, None)
        for short, main, why in bounded_peers:
            name = f"{loop}.run({short})"
            add(name, PEER, partial(fresh, partial(main, calls, WORKERS)), None, why)
            compared.append((name, short))
        add(gather, BASELINE, partial(fresh, partial(gather_naps, calls)), gather)
        compared = add(f"{task} workers=0", PYPELN, partial(task_naps, api, calls, 0), gather)
        unlimited = f"{loop}.run(aiostream task_limit=None)"
        add(unlimited, PEER, partial(fresh, partial(aiostream_naps, calls, None)), gather, no_aio)
        compared.append((unlimited, "aiostream task_limit=None"))
    timings = measure(contenders, options.repeat)
    rows = {name: Row.of(name, kind, "s", timings[name], wall) for name, _, kind, _ in layout}
    for name, reference, _, peers in layout:
        row = rows[name]
        if reference is None:
            row.relate(ideal, ideal_name)
        else:
            row.relate(rows[reference].value, "gather")
        for peer, short in peers:
            row.compare(short, rows[peer].value)
        result.rows.append(row)
    result.spread_notes(timings)
    return result
