"""One fresh interpreter's start-up figures, for the ``process-latency-threads`` scenario.

``python -m benchmarks.latency_child pypeln|executor|executor-forkserver N`` imports numpy
first (its BLAS starts threads, as in real programs; an idle thread too if it did not), times
``N + 1`` one-item runs over 4 worker processes: the first is the cold figure (nothing of the
kind ran in this interpreter yet), the median of the others the warm one. It prints them as
JSON with the thread count it saw.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

import numpy  # noqa: F401  (first, as real programs do: its BLAS starts threads)

from benchmarks.workloads import inc

WORKERS = 4


def threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def one_run(contender: str) -> Callable[[], list[int]]:
    if contender == "pypeln":
        import pypeln as pl

        return lambda: list(pl.process.map(inc, [1], workers=WORKERS))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context(
        "forkserver" if contender.endswith("forkserver") else None
    )

    def executor() -> list[int]:
        with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
            return list(pool.map(inc, [1]))

    return executor


def main() -> None:
    contender, warm_runs = sys.argv[1], int(sys.argv[2])
    if threads() == 1:  # a BLAS built without threads: a program with threads all the same
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    run = one_run(contender)
    seconds = []
    for _ in range(warm_runs + 1):
        started = time.perf_counter()
        assert run() == [2]
        seconds.append(time.perf_counter() - started)
    figures = {"cold": seconds[0], "warm": statistics.median(seconds[1:]), "threads": threads()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
