"""Start-up and early-exit cost.

* ``process-latency``: one item through ``pl.process.map(x+1, workers=4)``, start to finish
  (starting and stopping 4 processes), against ``ProcessPoolExecutor(4)`` doing the same; with
  the default start method, ``using("forkserver")`` and ``using("fork")``.
* ``process-latency-threads``: the same in a program that has threads (numpy imported
  first), where workers start from pypeln's fork server: each run is a fresh interpreter
  (``latency_child.py``) that times its first run (cold) and its next ones (warm), against
  a fresh interpreter doing the same with ``ProcessPoolExecutor(4)``.
* ``early-exit``: ``map(x+1, itertools.count(), workers=4)`` on ``pl.process``, ``pl.thread`` and
  ``pl.task`` (``async def``), consumed by a loop that breaks after the first result. Two
  figures per run: the time from nothing to the first result, and the time from the first
  result (the ``break``) until every process and thread the run started is gone. Peers:
  ``Pool(4).imap`` over ``count()`` stopped with ``terminate()``, ``ThreadPoolExecutor(4).map``
  (over a finite input: it reads all of it first) stopped with ``shutdown(cancel_futures=True)``,
  and aiostream's ``stream.map`` over ``stream.count()`` left early in ``asyncio.run``.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pypeln as pl

from ..guard import is_program_helper, running_descendants
from ..measure import Contender, Outcome, equals, measure
from ..options import Options
from ..peers import EXECUTOR_INPUT, aiostream_first, executor_first, missing, pool_first
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, metric, wall
from ..workloads import ainc, inc
from .common import FORKSERVER, default_start_note, lacks_backend, start_forkserver

WORKERS = 4
MIN_REPEAT = 7  # these runs are short and their spread wide: a few more for the median
GONE_TIMEOUT = 10.0  # seconds to wait for a run's workers before calling it an error

# -- process-latency --------------------------------------------------------------------------

EXECUTOR = "ProcessPoolExecutor"
EXECUTOR_FORKSERVER = f"ProcessPoolExecutor {FORKSERVER}"
PROCESS_FORKSERVER = f"process using('{FORKSERVER}')"
PROCESS_FORK = "process using('fork')"


def executor_one(start_method: str | None) -> list[int]:
    """One item through a fresh executor (``None``: multiprocessing's default start method)."""
    context = None if start_method is None else multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(WORKERS, mp_context=context) as executor:
        return list(executor.map(inc, [1]))


def pipeline_one(module: Any) -> list[int]:
    """One item through a fresh pipeline: start its workers, run, stop them."""
    return list(module.map(inc, [1], workers=WORKERS))


def process_latency(options: Options) -> ScenarioResult:
    default_method = multiprocessing.get_start_method()
    result = ScenarioResult(
        name="process-latency",
        title=f"process-latency: 1 item through map(x+1), workers={WORKERS}, start to finish",
        baseline=EXECUTOR,
        ratio_meaning=f"wall time relative to ProcessPoolExecutor({WORKERS}) "
        f"(multiprocessing's default start method, {default_method} here), same run; under "
        "the table, against the executor of the same start method",
    )
    if lacks_backend(result, "process"):
        return result
    start_forkserver()
    result.notes.append(default_start_note())
    check = equals([2])
    contenders = [
        Contender(EXECUTOR, partial(executor_one, None), check),
        Contender(EXECUTOR_FORKSERVER, partial(executor_one, FORKSERVER), check),
        Contender("process", partial(pipeline_one, pl.process), check),
        Contender(PROCESS_FORKSERVER, partial(pipeline_one, pl.process.using(FORKSERVER)), check),
        Contender(PROCESS_FORK, partial(pipeline_one, pl.process.using("fork")), check),
    ]
    timings = measure(contenders, options.at_least(MIN_REPEAT))
    base = Row.of(EXECUTOR, BASELINE, "s", timings[EXECUTOR], wall)
    same_method = {PROCESS_FORKSERVER: EXECUTOR_FORKSERVER}
    if default_method == "fork":
        same_method[PROCESS_FORK] = EXECUTOR
    rows = {EXECUTOR: base}
    for contender in contenders[1:]:
        kind = PEER if contender.name == EXECUTOR_FORKSERVER else PYPELN
        rows[contender.name] = Row.of(contender.name, kind, "s", timings[contender.name], wall)
    for name, row in rows.items():
        row.relate(base.value)
        if name in same_method:
            row.compare(same_method[name], rows[same_method[name]].value)
        result.rows.append(row)
    result.spread_notes(timings)
    return result


# -- process-latency-threads ------------------------------------------------------------------

WARM_RUNS = 5  # warm runs per fresh interpreter (their median is its warm figure)
CHILD_TIMEOUT = 120.0


def fresh_interpreter(contender: str) -> Outcome:
    """One ``latency_child`` run: its cold and warm figures."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency_child", contender, str(WARM_RUNS)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    figures = json.loads(done.stdout)
    return Outcome(figures["threads"], figures["cold"], figures)


def process_latency_threads(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="process-latency-threads",
        title=f"process-latency-threads: 1 item through map(x+1), workers={WORKERS}, in a "
        "program with threads (numpy imported first), fresh interpreters",
        baseline=EXECUTOR,
        ratio_meaning=f"wall time relative to ProcessPoolExecutor({WORKERS}) in the same kind of "
        "interpreter, same run: 'first run' is the first in the interpreter, 'later runs' the "
        f"median of the {WARM_RUNS} after it",
    )
    if lacks_backend(result, "process") or missing("numpy") is not None:
        return result
    check = lambda threads: isinstance(threads, int) and threads > 1  # noqa: E731
    contenders = [
        Contender(EXECUTOR, partial(fresh_interpreter, "executor"), check),
        Contender(EXECUTOR_FORKSERVER, partial(fresh_interpreter, "executor-forkserver"), check),
        Contender("process", partial(fresh_interpreter, "pypeln"), check),
    ]
    timings = measure(contenders, options.at_least(MIN_REPEAT))
    for figure, label in (("cold", "first run"), ("warm", "later runs")):
        base = Row.of(f"{EXECUTOR}: {label}", BASELINE, "s", timings[EXECUTOR], metric(figure))
        safe = Row.of(
            f"{EXECUTOR_FORKSERVER}: {label}",
            PEER,
            "s",
            timings[EXECUTOR_FORKSERVER],
            metric(figure),
        )
        row = Row.of(f"process: {label}", PYPELN, "s", timings["process"], metric(figure))
        result.rows.append(base.relate(base.value))
        result.rows.append(safe.relate(base.value))
        result.rows.append(row.relate(base.value).compare(safe.contender, safe.value))
    result.notes.append(
        "each figure is the median over fresh interpreters; a child that saw a single thread "
        "starts an idle one, so that the fork server is what starts the workers. "
        "ProcessPoolExecutor forks the threaded parent itself (multiprocessing's default "
        "here), which a pipeline may not do safely; with forkserver it starts a fresh "
        "interpreter first, as pypeln's fork server does"
    )
    result.spread_notes(timings)
    return result


# -- startup ----------------------------------------------------------------------------------

# Each starter returns the first result, the perf_counter time it came, and what ends the run.
Starter = Callable[[], tuple[int, float, Callable[[], None]]]


def pipeline_first(module: Any, f: Callable[[int], Any]) -> tuple[int, float, Callable[[], None]]:
    """``for x in module.map(f, count(), workers=4): break``, cut in two at the ``break``."""
    results = iter(module.map(f, itertools.count(), workers=WORKERS))
    first = next(results)
    # Closing the generator is what a break out of the for-loop does once it drops it.
    return first, time.perf_counter(), results.close


def wait_until_gone(pids_before: set[int], threads_before: set[threading.Thread]) -> None:
    """Return once every process and thread started since the snapshot has ended."""
    deadline = time.perf_counter() + GONE_TIMEOUT
    while True:
        processes = [
            child
            for pid, child in running_descendants().items()
            if pid not in pids_before and not is_program_helper(child)
        ]
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        if not processes and not threads:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(
                f"{len(processes)} processes and {len(threads)} threads still running "
                f"{GONE_TIMEOUT:g} s after the break"
            )
        time.sleep(0.001)


def first_then_exit(start: Starter) -> Outcome:
    """Time a run to its first result, then from its ``break`` until its workers are gone."""
    pids_before = set(running_descendants())
    threads_before = set(threading.enumerate())
    begin = time.perf_counter()
    first, arrived, stop = start()
    stop()
    wait_until_gone(pids_before, threads_before)
    gone = time.perf_counter()
    return Outcome(first, gone - begin, {"first": arrived - begin, "exit": gone - arrived})


def is_result(value: Any) -> bool:
    """Any ``x + 1`` of the endless source: with 4 workers the first to come may not be 1."""
    return isinstance(value, int) and value >= 1


def early_exit(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="early-exit",
        title=f"early-exit: map(x+1, itertools.count(), workers={WORKERS}), first result, then "
        "break",
        baseline="the peer",
        ratio_meaning="time relative to the peer of the same kind in the same run (Pool for "
        "process, ThreadPoolExecutor for thread, aiostream for task); 'exit after break' runs "
        "until every process and thread the run started has ended",
    )
    why = missing("psutil")
    if lacks_backend(result, "process") or why is not None:
        if why is not None:
            result.notes.append(f"not measured: {why}")
        return result
    result.notes.append(default_start_note())
    pool, executor = f"Pool({WORKERS}).imap", f"ThreadPoolExecutor({WORKERS}).map"
    aiostream = f"aiostream stream.map(task_limit={WORKERS})"
    # (pypeln row, its starter, the peer's row, the peer's starter, why the peer is missing)
    pairs: list[tuple[str, Starter, str, Starter, str | None]] = [
        (
            "process",
            partial(pipeline_first, pl.process, inc),
            pool,
            partial(pool_first, WORKERS),
            None,
        ),
        (
            "thread",
            partial(pipeline_first, pl.thread, inc),
            executor,
            partial(executor_first, WORKERS),
            None,
        ),
        (
            "task (async f)",
            partial(pipeline_first, pl.task, ainc),
            aiostream,
            partial(aiostream_first, WORKERS),
            missing("aiostream"),
        ),
    ]
    contenders = []
    for name, start, peer, peer_start, peer_missing in pairs:
        contenders.append(Contender(name, partial(first_then_exit, start), is_result))
        contenders.append(
            Contender(peer, partial(first_then_exit, peer_start), is_result, peer_missing)
        )
    timings = measure(contenders, options.at_least(MIN_REPEAT))
    for name, _, peer, _, _ in pairs:
        for figure, label in (("first", "first result"), ("exit", "exit after break")):
            peer_row = Row.of(f"{peer}: {label}", PEER, "s", timings[peer], metric(figure))
            row = Row.of(f"{name}: {label}", PYPELN, "s", timings[name], metric(figure))
            result.rows.append(row.relate(peer_row.value, peer))
            result.rows.append(peer_row.relate(peer_row.value, peer))
    result.notes.append(
        f"{executor}: over range({EXECUTOR_INPUT:,}), since Executor.map submits its whole "
        "input before it returns; the others read itertools.count()"
    )
    result.spread_notes(timings)
    return result
