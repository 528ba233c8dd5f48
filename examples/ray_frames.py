"""Video frames split across Ray actors, gathered back in order.

    camera ──► ray.map(blur, workers=2) ──► ray.map(brightness) ──► ordered ──► for frame ...

Each frame is a 720p RGB ``numpy`` array (2.6 MB) made here, standing for a decoder. Two
actors blur frames at once; a third measures each frame's brightness; ``ordered`` gives
the results back in the camera's order. Frames travel through Ray's object store, never
back through this program between the stages. Without a cluster, the first run starts
one inside this program, on 127.0.0.1 only (``RAY_ADDRESS=host:port`` joins a running one).

Run it with ``python examples/ray_frames.py`` (needs ``pip install "pypeln[ray]"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

import pypeln as pl

FRAMES = 24
SHAPE = (720, 1280, 3)


def camera() -> Iterator[np.ndarray]:
    """Stands for a video decoder: frame ``i`` is filled with ``i``."""
    for index in range(FRAMES):
        yield np.full(SHAPE, index * 10 % 250, dtype=np.uint8)


def blur(frame: np.ndarray) -> np.ndarray:
    """A 3x3 box blur (a new array)."""
    padded = np.pad(frame.astype(np.uint16), ((1, 1), (1, 1), (0, 0)), mode="edge")
    total = sum(
        padded[dy : dy + SHAPE[0], dx : dx + SHAPE[1]] for dy in range(3) for dx in range(3)
    )
    return (total // 9).astype(np.uint8)


def brightness(frame: np.ndarray) -> float:
    return float(frame.mean())


def main() -> None:
    started = time.perf_counter()
    stage = pl.ray.map(blur, camera(), workers=2, maxsize=4)
    stage = pl.ray.map(brightness, stage, maxsize=4)
    levels = list(pl.ray.ordered(stage))
    took = time.perf_counter() - started
    expected = [float(index * 10 % 250) for index in range(FRAMES)]
    print(f"{FRAMES} frames of {SHAPE[1]}x{SHAPE[0]} through 3 actors in {took:.2f} s")
    print(f"first levels: {levels[:4]}")
    print(f"in camera order, every level as computed: {levels == expected}")


if __name__ == "__main__":
    main()
