"""Progress bars, one per stage: items handed on, their rate and the time so far, with a
total where the number of items is known (``tqdm``: a terminal's bars, a notebook's widgets).

``to_iterable(stage, progress=True)``, ``run(..., progress=True)``, or ``PYPELN_PROGRESS=1``
in the environment for every run. The bars follow the run's statistics: the run's watch
samples them ten times a second and then moves the bars; the bars close with the run,
however it ends (its end, ``break``, an error, Ctrl-C).

>>> import io
>>> import pypeln as pl
>>> stream = io.StringIO()
>>> run = pl.thread.to_iterable(pl.thread.map(abs, range(-5, 5)), progress=stream)
>>> sorted(run)[:3]
[0, 1, 1]
>>> "map(abs): 100%" in stream.getvalue()
True
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import IO, Any

from .._worker.counters import RunStatistics, StageRecord

#: The extra that installs tqdm.
EXTRA = "pypeln[progress]"


def wanted(progress: bool | IO[str]) -> bool | IO[str]:
    """``progress`` as given, or True when ``$PYPELN_PROGRESS`` asks for bars.

    >>> wanted(False) == (os.environ.get("PYPELN_PROGRESS", "") not in ("", "0"))
    True
    """
    if progress is False and os.environ.get("PYPELN_PROGRESS", "") not in ("", "0"):
        return True
    return progress


def bar_type(caller: str) -> Any:
    """tqdm's bar (a notebook widget where there is one), or an ImportError naming the
    extra to install."""
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm  # untyped: Any
    except ImportError:
        raise ImportError(
            f"{caller}: progress bars need tqdm: pip install '{EXTRA}' (or pip install tqdm)"
        ) from None
    # No monitor thread: the run's watch moves the bars, and nothing outlives the run.
    return type("StageBar", (tqdm,), {"monitor_interval": 0})


class ProgressBars:
    """The bars of one run: one per stage its statistics know, in pipeline order; written
    to ``stream`` (None: standard error)."""

    def __init__(self, statistics: RunStatistics, stream: IO[str] | None, caller: str) -> None:
        self._tqdm = bar_type(caller)
        self._statistics = statistics
        self._stream = stream
        self._bars: dict[object, Any] = {}
        self._lock = threading.Lock()  # the watch moves the bars; the consumer closes them
        self._closed = False
        statistics.listeners.append(self.update)

    def update(self) -> None:
        """Move every bar to its stage's count (from the run's watch)."""
        with self._lock:
            if not self._closed:
                self._move()

    def close(self) -> None:
        """Move the bars a last time and close them (from the consumer)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._move()
            finally:
                for bar in self._bars.values():
                    bar.close()
        listeners = self._statistics.listeners
        if self.update in listeners:
            listeners.remove(self.update)

    def _move(self) -> None:
        for key, record in list(self._statistics.stages.items()):
            bar = self._bars.get(key)
            if bar is None:
                bar = self._bars[key] = self._bar(record)
            done = _done(record)
            if done > bar.n:
                bar.update(done - bar.n)

    def _bar(self, record: StageRecord) -> Any:
        return self._tqdm(
            desc=record.name,
            total=record.total,
            unit=" items",
            position=len(self._bars),
            file=self._stream,
            leave=True,
            dynamic_ncols=True,
        )


def _done(record: StageRecord) -> int:
    """What a stage's bar counts: the items it handed on (``each`` hands on none: the items
    it took)."""
    counters = list(record.counters)
    name = "received" if record.kind == "each" else "emitted"
    return sum(getattr(c, name) for c in counters)
