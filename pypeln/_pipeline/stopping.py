"""How a thread other than a run's consumer stops the run (``RunIterator.close()``).

A run's generator belongs to the thread consuming it: another thread cannot close it while
the consumer waits in ``next()`` (Python refuses: "generator already executing"). It asks
instead. Every run of the pipeline (the consumer's, and those of other backends it reads)
registers how to stop itself; a request stops them all, the consumer's wait ends, and its
``next()`` raises ``StopIteration`` after releasing the run, in the consumer's thread. A
consumer that was not waiting looks at the request before its next item.

>>> class Run:
...     def fail(self, error):
...         print("stopped by", type(error).__name__)
>>> request, run = StopRequest(), Run()
>>> request.attach(run.fail)
>>> request.request()
stopped by Stopped
>>> request.requested
True
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from .._errors import Stopped

#: How a run stops itself from any thread: its ``fail``, called with ``Stopped()``.
StopRun = Callable[[BaseException], None]


class StopRequest:
    """One consumer's "stop now", answered by every run attached to it."""

    def __init__(self) -> None:
        #: Read by the consumer between items: a run stops at the next one, whether or not
        #: the consumer was waiting (on ``sync`` nothing could wake it: it runs the stages).
        self.requested = False
        self._lock = threading.Lock()
        # Weak: a run holds its statistics, which hold this; a strong reference back would
        # keep every run (and what its stages' closures hold) alive until a garbage collection.
        self._runs: list[weakref.WeakMethod[StopRun]] = []

    def attach(self, stop: StopRun) -> None:
        """Stop with ``stop``, a run's method, when the request comes (at once if it came)."""
        with self._lock:
            if not self.requested:
                self._runs.append(weakref.WeakMethod(stop))
                return
        stop(Stopped())

    def request(self) -> None:
        """Stop every attached run (from any thread); later ones stop as they attach."""
        with self._lock:
            if self.requested:
                return
            self.requested = True
            runs, self._runs = self._runs, []
        for run in runs:
            stop = run()
            if stop is not None:  # else the run is gone, and with it what it ran
                stop(Stopped())
