"""``Stats``: a snapshot of one run's statistics, per stage, at any moment of the run.

Each stage's workers count what they take, hand on and drop, and how long they wait for
input and spend handing on (``_worker/flow.py``); the rest of their life is work. Here the
counters of a stage's workers are added up into one ``StageStats``.

>>> import pypeln as pl
>>> run = pl.thread.to_iterable(pl.thread.map(abs, range(-50, 50), workers=2))
>>> sorted(run)[:3]
[0, 1, 1]
>>> stats = run.stats()
>>> stage = stats.stages[0]
>>> stage.name, stage.workers, stage.received, stage.emitted, stage.dropped
('map(abs)', 2, 100, 100, 0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._worker.counters import SAMPLES, RunStatistics, StageRecord
from .._worker.flow import clock
from .page import saved_page
from .stage_stats import StageStats
from .table import render
from .verdict import Verdict, verdict_of

NANOSECONDS = 1e9


@dataclass(frozen=True)
class Stats:
    """A run's statistics: its stages in pipeline order, and its wall time so far."""

    stages: tuple[StageStats, ...]
    seconds: float  #: wall time of the run so far (or in all, once it ended)
    running: bool  #: the run has not ended
    #: Per stage, its samples over time (ten a second): ``seconds`` since the run began,
    #: items handed on by then (``emitted``), its queue's ``fill``.
    history: tuple[dict[str, list[float]], ...] = ()

    def __getitem__(self, name: str) -> StageStats:
        """The stage called ``name`` (the first one, if several are)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in this run (stages: {self.names()})")

    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    @property
    def bottleneck(self) -> Verdict | None:
        """The stage that limits the run, why, and what to change (None: nothing ran)."""
        return verdict_of(self.stages)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): the stages, the wall time and the verdict."""
        verdict = self.bottleneck
        stages = [{**asdict(stage), "dropped": stage.dropped} for stage in self.stages]
        for stage, history in zip(stages, self.history, strict=False):
            stage["history"] = history
        return {
            "seconds": self.seconds,
            "running": self.running,
            "stages": stages,
            "bottleneck": None if verdict is None else asdict(verdict),
        }

    def save_html(self, path: str | os.PathLike[str]) -> None:
        """Write the live page's view of these statistics, with each stage's throughput and
        queue fill over time, as one self-contained HTML file (for a report, a ticket)."""
        Path(path).write_text(saved_page(self.as_dict()), encoding="utf-8")

    def __str__(self) -> str:
        state = "running" if self.running else "ended"
        return render(f"run: {self.seconds:.2f} s, {state}", self.stages, self.bottleneck)


def snapshot(statistics: RunStatistics) -> Stats:
    """The statistics of a run now."""
    for refresh in list(statistics.refreshers):
        refresh()
    now = clock()
    begun, ended = statistics.begun_ns, statistics.ended_ns
    seconds = ((ended or now) - begun) / NANOSECONDS if begun else 0.0
    records = list(statistics.stages.values())
    # The shares of time are of the time any worker ran: not the start of processes or
    # actors before it, nor the consumer's time after the last worker ended.
    workers = [c for record in records for c in list(record.counters) if c.started_ns]
    first = min((c.started_ns for c in workers), default=0)
    last = max(((c.ended_ns or now) for c in workers), default=0)
    stages = tuple(_stage(record, now, last - first) for record in records)
    history = tuple(_history(record, begun) for record in records)
    return Stats(stages, seconds, running=bool(begun) and not ended, history=history)


def _history(record: StageRecord, begun: int) -> dict[str, list[float]]:
    samples = list(record.emitted)
    fills = list(record.fills)
    return {
        "seconds": [(at - begun) / NANOSECONDS for at, _ in samples],
        "emitted": [float(count) for _, count in samples],
        "fill": [float(fill) for fill in fills[-len(samples) :]] if samples and fills else [],
    }


def _stage(record: StageRecord, now: int, span: int) -> StageStats:
    workers = list(record.counters)
    total = {name: sum(getattr(c, name) for c in workers) for name in _SUMMED}
    life = sum(((c.ended_ns or now) - c.started_ns) for c in workers if c.started_ns)
    waiting, blocked = total["waiting_ns"], total["blocked_ns"]
    busy = max(0, life - waiting - blocked)
    # Shares of the workers' span: a stage that ended early, or started late, was idle then.
    whole = max(life, record.workers * span)
    started = [c.started_ns for c in workers if c.started_ns]
    own = (max((c.ended_ns or now) for c in workers) - min(started)) if started else 0
    calls = sorted(_samples(workers))
    fills = list(record.fills)
    return StageStats(
        name=record.name,
        backend=record.backend,
        workers=record.workers,
        maxsize=record.maxsize,
        received=total["received"],
        emitted=total["emitted"],
        filtered_out=total["filtered_out"],
        timed_out=total["timed_out"],
        failed=total["failed"],
        busy=busy / whole if whole else 0.0,
        waiting=waiting / whole if whole else 0.0,
        blocked=blocked / whole if whole else 0.0,
        fill=fills[-1] if fills else 0,
        mean_fill=sum(fills) / len(fills) if fills else 0.0,
        call_p50=_percentile(calls, 0.50),
        call_p99=_percentile(calls, 0.99),
        per_second=total["emitted"] / (own / NANOSECONDS) if own else 0.0,
        seconds=own / NANOSECONDS,
        concurrent=record.concurrent,
    )


_SUMMED = ("received", "emitted", "filtered_out", "timed_out", "failed", "waiting_ns", "blocked_ns")


def _samples(workers: Sequence[Any]) -> list[int]:
    """Every duration of a call the workers still keep (the latest ``SAMPLES`` of each)."""
    kept: list[int] = []
    for counters in workers:
        count = min(counters.sampled, SAMPLES)
        kept += list(counters.samples[:count])
    return kept


def _percentile(ordered: list[int], share: float) -> float | None:
    """The value below which ``share`` of ``ordered`` (nanoseconds) lies, in seconds.

    >>> _percentile([1_000, 2_000, 3_000, 4_000], 0.5), _percentile([], 0.5)
    (2e-06, None)
    """
    if not ordered:
        return None
    position = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[position] / NANOSECONDS
