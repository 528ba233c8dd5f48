"""Run every example in turn: ``python examples/run_all.py`` (or ``make demo``)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

EXAMPLES = [
    "crawl_like",
    "cpu_bound",
    "hooks_and_errors",
    "word_count",
    "async_io",
    "frames",
    "ray_frames",
]


def main() -> None:
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:  # the examples import each other as plain modules
        sys.path.insert(0, here)
    for name in EXAMPLES:
        module = importlib.import_module(name)
        summary = (module.__doc__ or "").strip().splitlines()[0]
        print(f"\n=== examples/{name}.py: {summary}")
        start = time.perf_counter()
        module.main()
        print(f"=== {name} finished in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
