"""Runs the trivial pipeline on another pypeln, for ``legacy.py``: the 0.4.9 release in its
own venv, or a checkout of pypeln (an earlier commit) whose directory is the first argument.

This file is executed in isolated mode (``-I``), by the 0.4.9 virtualenv's interpreter so that
``import pypeln`` finds the release and not the checkout, or by this one with the checkout's
directory put first on ``sys.path``; it imports nothing else from the benchmarks. It reads one
JSON request per line on stdin, ``{"backend": "process", "n": 2000, "maxsize": 0}``, runs
``map(x+1) -> filter(x%2==0) -> map(x*2)`` over ``range(n)`` with that backend (``workers=1``,
``maxsize`` on every stage, 0 if not given), and answers one JSON line: the run's wall time
and the count and sum of its output, which the parent checks against the expected ones; or
the error it raised. The functions are defined here, at module level, so that process
workers, forked from this interpreter, find them.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any


def inc(x: int) -> int:
    return x + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def double(x: int) -> int:
    return x * 2


async def ainc(x: int) -> int:
    return x + 1


async def ais_even(x: int) -> bool:
    return x % 2 == 0


async def adouble(x: int) -> int:
    return x * 2


def run_pipeline(backend: str, n: int, maxsize: int) -> dict[str, Any]:
    import pypeln as pl

    module = getattr(pl, backend)
    # pl.task is given the async def twins, as the current pl.task's row it is compared with.
    fs = (ainc, ais_even, adouble) if backend == "task" else (inc, is_even, double)
    start = time.perf_counter()
    stage = module.map(fs[0], range(n), workers=1, maxsize=maxsize)
    stage = module.filter(fs[1], stage, workers=1, maxsize=maxsize)
    stage = module.map(fs[2], stage, workers=1, maxsize=maxsize)
    values = list(stage)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "count": len(values), "total": sum(values)}


def main() -> None:
    if len(sys.argv) > 1:  # a checkout: its pypeln before the one installed
        sys.path.insert(0, sys.argv[1])
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = run_pipeline(request["backend"], request["n"], request.get("maxsize", 0))
        except Exception as exc:
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            answer = {"error": last}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
