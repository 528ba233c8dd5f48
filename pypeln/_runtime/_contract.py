"""The runtime contract: the one surface a backend implements.

A runtime turns the last stage of a graph into a stream of elements. Everything else
(combinators, kernels, hooks, validation) is shared; a runtime only decides where the
workers run and how elements travel between them.

>>> import pypeln as pl
>>> from pypeln._stats import RunStatistics
>>> stage = pl.thread.map(str.upper, "ab")
>>> sorted(stage.runtime.iterate(stage, 0, RunStatistics()))
[((0,), 'A'), ((1,), 'B')]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .._kernels import Element
    from .._stage import Stage
    from .._stats import RunStatistics


class Runtime(Protocol):
    """One execution backend (sync, thread, …)."""

    #: The public name, as in ``pl.<name>.map``.
    name: str

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        """Run the graph ending in ``stage``; yield its elements as they are produced.

        Nothing starts before the first ``next()``. The first error of any worker is raised
        from ``next()`` with its original type. Closing the iterator (or dropping it) stops
        the run and releases every worker, channel and thread it started. ``maxsize`` bounds
        the consumer's own queue (0: the last stage's ``maxsize``).
        """
        ...
