"""The bottleneck verdict: which stage limits a run, why, and what to change.

Read from the shares of their time the workers of each stage spend working, waiting for
input and handing on (``stats.py``):

* a stage whose workers work most of the time limits the run (the stages before it wait to
  hand on, the stages after it wait for input): give it more workers;
* else, when the last stage spends most of its time handing on, the code that reads the
  results is the limit;
* else, when the first stage spends most of its time waiting for input, the source is.

>>> import pypeln as pl, time
>>> def slow(x):
...     time.sleep(0.002)
...     return x
>>> run = pl.thread.to_iterable(pl.thread.map(slow, pl.thread.map(abs, range(100))))
>>> _ = list(run)
>>> verdict = run.stats().bottleneck
>>> verdict.stage, verdict.limit
('map(slow)', 'stage')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .stage_stats import StageStats

#: A stage whose workers spend this share of their time working (or handing on, or
#: waiting for input) is called busy (or blocked, or starved).
MOST = 0.5


@dataclass(frozen=True)
class Verdict:
    """What limits a run: a stage (``limit == "stage"``), the source or the consumer."""

    limit: Literal["stage", "source", "consumer"]
    stage: str  #: the stage named in the verdict (for the source: the first stage)
    why: str  #: one sentence: what the statistics show
    advice: str  #: what to change

    def __str__(self) -> str:
        return f"{self.why} {self.advice}"


def verdict_of(stats: Sequence[StageStats]) -> Verdict | None:
    """The verdict on a run's stages, in pipeline order (None when none took an item yet)."""
    stages = [stage for stage in stats if stage.received or stage.busy]
    if not stages:
        return None
    busiest = max(stages, key=lambda stage: stage.busy)
    if busiest.busy >= MOST:
        return _busy(busiest, stages)
    last, first = stages[-1], stages[0]
    if last.blocked >= MOST:
        return Verdict(
            "consumer",
            last.name,
            f"The last stage, {last.name}, spends {last.blocked:.0%} of its time waiting for "
            "the consumer to take its results.",
            "The consumer is the limit: the code that reads the results is slower than the "
            "pipeline.",
        )
    if first.waiting >= MOST:
        return Verdict(
            "source",
            first.name,
            f"The first stage, {first.name}, spends {first.waiting:.0%} of its time waiting "
            "for input.",
            "The source is the limit: more workers will not help; a faster source will.",
        )
    return Verdict(
        "stage",
        busiest.name,
        f"No stage is busy most of the time; {busiest.name} is the busiest, working "
        f"{busiest.busy:.0%} of its time.",
        "The hand-offs between stages are the limit: give each item more work (or fewer stages).",
    )


def _busy(stage: StageStats, stages: list[StageStats]) -> Verdict:
    who = "its worker spends" if stage.workers == 1 else f"its {stage.workers} workers spend"
    their = "its" if stage.workers == 1 else "their"
    why = f"{stage.name} is the bottleneck: {who} {stage.busy:.0%} of {their} time working"
    full = stage.fill_share
    if full is not None and full >= MOST:
        why += f", and its input queue is {full:.0%} full on average"
    position = stages.index(stage)
    if position and stages[position - 1].blocked >= MOST:
        why += f", while {stages[position - 1].name} waits for room to hand on"
    if not stage.concurrent:
        advice = (
            "Its backend makes one call at a time: run it on pl.thread (calls that wait) or "
            "pl.process (CPU-bound calls) with more workers, or make its function faster."
        )
    else:
        more = max(2, stage.workers * 2)
        advice = f"Give it more workers (workers={more}), or make its function faster."
    return Verdict("stage", stage.name, why + ".", advice)
