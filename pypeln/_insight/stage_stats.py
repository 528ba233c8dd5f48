"""``StageStats``: one stage of a run, in figures (what ``Stats`` holds per stage).

>>> stage = StageStats("map(f)", "thread", 1, 8, 10, 7, 2, 0, 1, 0.5, 0.2, 0.3, 1, 2.0,
...                    None, None, 70.0, 0.1)
>>> stage.dropped, stage.fill_share
(3, 0.25)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageStats:
    """One stage of a run: what went through it and how its workers spent their time."""

    name: str
    backend: str
    workers: int
    maxsize: int  #: its input queue's bound (0: none)
    received: int  #: items taken from its input
    emitted: int  #: items handed on
    filtered_out: int
    timed_out: int
    failed: int  #: items an error policy dropped
    #: Shares of its workers' time while the run's workers ran (0 to 1; the rest, they had
    #: not started or had ended): working (in the stage's function), waiting for input, handing on
    #: (waiting for room downstream, mostly).
    busy: float
    waiting: float
    blocked: float
    fill: int  #: items in its input queue at the last sample
    mean_fill: float  #: items in its input queue, on average over the samples
    call_p50: float | None  #: seconds a call takes, median (None: no call yet)
    call_p99: float | None  #: seconds a call takes, 99th percentile
    per_second: float  #: items handed on per second of the stage's life
    seconds: float  #: the stage's life so far
    #: Its backend runs several calls at once, through queues (``sync`` does not).
    concurrent: bool = True

    @property
    def dropped(self) -> int:
        """Items dropped on purpose: filtered out, timed out, failed under an error policy."""
        return self.filtered_out + self.timed_out + self.failed

    @property
    def fill_share(self) -> float | None:
        """How full its input queue was on average (None: unbounded)."""
        return self.mean_fill / self.maxsize if self.maxsize else None
