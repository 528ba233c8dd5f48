"""CPU-bound work in processes, fed by a thread stage, with a worker that crashes.

    thread.flat_map(load_chunk) ──► process.map(count_primes, workers=2) ──► ordered ──► sum

``count_primes`` is pure Python, so threads would take turns holding the GIL; two worker
processes really run at the same time. The example times one worker against two (on a
machine with at least two cores the second run is faster), checks the result against a
plain loop, then shows what happens when a worker process dies without a word: the
pipeline raises ``WorkerCrashedError`` naming the stage, the worker and the exit code.

Run it with ``python examples/cpu_bound.py``.
"""

from __future__ import annotations

import os
import time

import pypeln as pl

CHUNKS = [(start, start + 8_000) for start in range(0, 200_000, 8_000)]


def load_chunk(chunk: tuple[int, int]) -> list[tuple[int, int]]:
    """Stands for reading a file: split a range in two halves."""
    start, stop = chunk
    middle = (start + stop) // 2
    return [(start, middle), (middle, stop)]


def count_primes(bounds: tuple[int, int]) -> int:
    start, stop = bounds
    return sum(
        1 for n in range(max(start, 2), stop) if all(n % d for d in range(2, int(n**0.5) + 1))
    )


def total_primes(workers: int) -> tuple[int, float]:
    begin = time.perf_counter()
    halves = pl.thread.flat_map(load_chunk, CHUNKS, workers=2, maxsize=4)
    counts = pl.process.map(count_primes, halves, workers=workers, maxsize=4)
    total = sum(pl.process.ordered(counts))
    return total, time.perf_counter() - begin


def crash_on_seven(x: int) -> int:
    if x == 7:
        os._exit(3)  # a worker dying without a word, as a segfault or the OOM killer would
    return x


def main() -> None:
    expected = count_primes((0, 200_000))
    one, one_seconds = total_primes(workers=1)
    two, two_seconds = total_primes(workers=2)
    assert one == two == expected
    print(f"primes below 200,000: {two} (a plain loop counts {expected})")
    print(f"1 worker: {one_seconds:.2f} s, 2 workers: {two_seconds:.2f} s")
    try:
        list(pl.process.map(crash_on_seven, range(100), workers=2))
    except pl.WorkerCrashedError as error:
        print(f"crash reported: {error}")


if __name__ == "__main__":
    main()
