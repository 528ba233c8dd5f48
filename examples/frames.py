"""Video frames through process stages, in shared memory rather than pickled through pipes.

    frames ──► process.map(quantize, workers=2) ──► process.map(stamp) ──► for frame in ...

Each frame is a 1080p RGB ``numpy`` array (6 MB). ``quantize`` makes a new array, which
is copied once into shared memory; ``stamp`` changes the array it got and returns it, so it
is passed on in the same memory, without a copy; the for-loop gets ordinary writable arrays
that view that memory. The example runs the pipeline twice, with zero-copy transport
(pypeln's default) and with ``PYPELN_ZERO_COPY=0`` (everything pickled through the pipes),
checks that both give the same frames, and that nothing is left in ``/dev/shm``.

Run it with ``python examples/frames.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np

import pypeln as pl

FRAMES = 120
SHAPE = (1080, 1920, 3)


def camera() -> Iterator[np.ndarray]:
    """Stands for a video decoder: frame ``i`` is filled with ``i``."""
    for index in range(FRAMES):
        yield np.full(SHAPE, index % 200, dtype=np.uint8)


def quantize(frame: np.ndarray) -> np.ndarray:
    return np.bitwise_and(frame, 0xF0)  # a new array: the low 4 bits of each pixel dropped


def stamp(frame: np.ndarray) -> np.ndarray:
    frame[:8, :8] = 255  # a mark in the corner, in place: the array is passed on
    return frame


def run(zero_copy: bool) -> tuple[list[int], float]:
    """The checksum of every frame, in order, and the throughput in GB/s."""
    os.environ["PYPELN_ZERO_COPY"] = "1" if zero_copy else "0"  # read when a run starts
    try:
        start = time.perf_counter()
        stage = pl.process.map(quantize, camera(), workers=2, maxsize=4)
        stage = pl.process.map(stamp, pl.process.ordered(stage), maxsize=4)
        sums = [int(frame.sum(dtype=np.int64)) for frame in stage]
        elapsed = time.perf_counter() - start
    finally:
        del os.environ["PYPELN_ZERO_COPY"]
    return sums, FRAMES * int(np.prod(SHAPE)) / elapsed / 1e9


def expected_sum(index: int) -> int:
    value = (index % 200) & 0xF0
    corner = 8 * 8 * 3
    return value * (int(np.prod(SHAPE)) - corner) + 255 * corner


def main() -> None:
    shared, fast = run(zero_copy=True)
    piped, slow = run(zero_copy=False)
    print(f"{FRAMES} frames of {SHAPE}, 2 process stages:")
    print(f"  shared memory (default)   {fast:5.2f} GB/s")
    print(f"  PYPELN_ZERO_COPY=0        {slow:5.2f} GB/s   ({fast / slow:.1f}x slower)")
    print(f"every frame as computed: {shared == [expected_sum(i) for i in range(FRAMES)]}")
    print(f"same frames both ways: {shared == piped}")
    ours = f"pypeln-{os.getpid()}-"
    leftovers = [name for name in os.listdir("/dev/shm") if name.startswith(ours)]
    print(f"left in /dev/shm: {leftovers or 'nothing'}")


if __name__ == "__main__":
    main()
