"""``RayBackend``: stage workers are Ray actors (see the package docstring).

>>> import pypeln as pl
>>> sorted(pl.ray.map(abs, [-1, 2], workers=2))
[1, 2]
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from ..._pipeline.stage import Stage
from ..._worker.counters import RunStatistics
from ..._worker.kernels import Element
from ..common.consumer import consume
from ..contract import Backend
from .cluster import connect
from .resources import ActorOptions
from .run import RayRun
from .shared_state import Namespace


class RayBackend(Backend):
    """Runs a graph with one Ray actor per stage worker."""

    name = "ray"
    shares_memory = False
    joins_cluster = True
    Namespace = Namespace

    def __init__(self, options: ActorOptions | None = None) -> None:
        self.options = options or ActorOptions()

    def runs_with(self, other: Backend) -> bool:
        """Stages of every ``pl.ray.using(...)`` on one cluster run together: each actor
        asks for its own stage's resources, and results go from actor to actor."""
        return isinstance(other, RayBackend) and other.options.address == self.options.address

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(self._open, stage, maxsize, stats))

    def _open(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> RayRun:
        connect(self.options.address)  # at the first next(): nothing starts before
        return RayRun(self, stage, maxsize, stats)
