"""The ``process`` backend: its start method, and its runs (``ProcessRun``, the supervisor).

>>> import pypeln as pl
>>> sorted(ProcessBackend("forkserver").iterate(pl.process.map(abs, [-1]), 0, RunStatistics()))
[((0,), 1)]
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
from .shared_state import Namespace
from .start.methods import check_start_method, resolve
from .supervisor import ProcessRun


class ProcessBackend(Backend):
    """Runs a graph with one process per stage worker (see the package docstring)."""

    name = "process"
    shares_memory = False
    #: Workers that start as fresh interpreters behave apart from forked ones (the
    #: default, in a single-threaded program): the contract holds for both.
    variants = ("forkserver",)
    Namespace = Namespace

    def __init__(self, start_method: str | None = None) -> None:
        if start_method is not None:
            check_start_method("using()", start_method)
        self._start_method = start_method

    def variant(self, name: str) -> ProcessBackend:
        """This backend with start method ``name``."""
        return ProcessBackend(name)

    def start_method(self) -> str:
        """The start method a run uses now: ``"fork"``, ``"forkserver"`` or ``"spawn"``."""
        return resolve(self._start_method)

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(ProcessRun, self, self.start_method(), stage, maxsize, stats))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProcessBackend, (self._start_method,))
