"""How a run is shown while it goes, as its user asked: progress bars, a live page.

``Shown(statistics)`` starts what ``statistics.progress`` and ``statistics.monitor`` (or
``$PYPELN_PROGRESS`` and ``$PYPELN_MONITOR``) ask for as a run begins; ``close()`` ends it
with the run, however the run ends.

>>> from pypeln._worker.counters import RunStatistics
>>> shown = Shown(RunStatistics())  # nothing asked for (unless the environment asks)
>>> shown.close()
"""

from __future__ import annotations

from .._worker.counters import RunStatistics
from .monitor import Monitor, monitor_port
from .progress import ProgressBars, wanted

CALLER = "to_iterable()"


class Shown:
    """The progress bars and the live page of one run (each only if asked for)."""

    def __init__(self, statistics: RunStatistics) -> None:
        self._statistics = statistics
        progress = wanted(statistics.progress)
        self._bars = None
        self._monitor = None
        port = monitor_port(CALLER, statistics.monitor)
        if progress is not False:
            self._bars = ProgressBars(statistics, None if progress is True else progress, CALLER)
        try:
            if port is not None:
                self._monitor = Monitor(statistics, port, CALLER)
                self._monitor.start()
                statistics.monitor_url = self._monitor.url
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            if self._bars is not None:
                self._bars.close()
        finally:
            if self._monitor is not None:
                self._monitor.close()
                self._statistics.monitor_url = None
