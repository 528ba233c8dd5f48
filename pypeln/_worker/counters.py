"""Per-run counters: what was dropped on purpose, so that nothing disappears unseen.

Each worker owns its counters (no lock on the hot path); readers add them up.

>>> stats = RunStatistics()
>>> stats.worker("map(f)").timed_out += 2
>>> stats.worker("map(f)").timed_out += 1
>>> stats.timed_out()
{'map(f)': 3}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from .._pipeline.stopping import StopRequest


#: Every counter, in the order backends that copy counters between processes use.
COUNTERS: Final = ("timed_out", "filtered_out", "failed")


class Counters(Protocol):
    """What a worker counts: a ``WorkerCounters``, or the same fields in shared memory."""

    timed_out: int
    filtered_out: int
    failed: int  # items an error policy dropped (on_error="skip", or SKIP from its function)


@dataclass
class WorkerCounters:
    """Counters one worker updates without locking."""

    timed_out: int = 0
    filtered_out: int = 0
    failed: int = 0


class RunStatistics:
    """The counters of every worker of one run, grouped by stage name."""

    def __init__(self) -> None:
        self._workers: list[tuple[str, Counters]] = []
        #: How another thread stops the run (``RunIterator.close()``); None where nothing can
        #: (a stage iterated directly). Every run of the pipeline attaches its stop to it.
        self.stop: StopRequest | None = None

    def worker(self, stage: str) -> WorkerCounters:
        """New counters for one worker of ``stage`` (list.append is atomic across threads)."""
        counters = WorkerCounters()
        self._workers.append((stage, counters))
        return counters

    def add(self, stage: str, counters: Counters) -> None:
        """Count ``counters`` (kept by a worker elsewhere, e.g. in shared memory) too."""
        self._workers.append((stage, counters))

    def timed_out(self) -> dict[str, int]:
        """Elements skipped because their call ran over ``timeout``, per stage that had any."""
        return self._totals("timed_out")

    def filtered_out(self) -> dict[str, int]:
        """Elements a ``filter`` dropped, per stage that dropped any."""
        return self._totals("filtered_out")

    def failed(self) -> dict[str, int]:
        """Elements an error policy dropped, per stage that dropped any."""
        return self._totals("failed")

    def _totals(self, counter: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for stage, counters in list(self._workers):
            count: int = getattr(counters, counter)
            if count:
                totals[stage] = totals.get(stage, 0) + count
        return totals
