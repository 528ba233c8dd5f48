"""``timeout`` for thread workers: the call runs in a helper thread the worker can give up on.

A thread cannot be stopped safely, so nothing is injected into it. A call that overruns is
abandoned: the worker counts the item as timed out, carries on with a fresh helper, and the
late result is discarded when (if ever) the stuck call returns. The cost: one extra thread
per worker and a hand-off per call, paid only by stages with a ``timeout``.

>>> from pypeln._worker.counters import WorkerCounters
>>> counters = WorkerCounters()
>>> deadline = ThreadDeadline(lambda x: x + 1, 5.0, counters, StopSignal())
>>> deadline(1), counters.timed_out
(2, 0)
>>> deadline.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..._errors import Stopped
from ..._worker.counters import Counters
from ..._worker.kernels import SKIP
from .stop_signal import StopSignal

_Outcome = tuple[Any, BaseException | None]


class ThreadDeadline:
    """``fn`` run with a time limit per call (see the module docstring)."""

    final = True  # whether an overrun call is tried again changes nothing here

    def __init__(
        self, fn: Callable[..., Any], timeout: float, counters: Counters, stop: StopSignal
    ) -> None:
        self._fn = fn
        self._timeout = timeout
        self._counters = counters
        self._stop = stop
        self._helper: _Helper | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._helper is None:
            self._helper = _Helper(self._fn, self._stop)
        try:
            outcome = self._helper.run(args, kwargs, self._timeout)
        except Stopped:  # the run stops: leave the helper to finish its call on its own
            self._helper = None
            raise
        if outcome is None:  # overran: the helper is abandoned with its call
            self._helper = None
            self._counters.timed_out += 1
            return SKIP
        value, error = outcome
        if error is not None:
            raise error
        return value

    def close(self) -> None:
        """End the helper thread (an abandoned one ends when its stuck call returns)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None


class _Helper:
    """One daemon thread running the calls of one worker, one at a time."""

    def __init__(self, fn: Callable[..., Any], stop: StopSignal) -> None:
        self._fn = fn
        self._stop = stop
        self._condition = threading.Condition()
        self._job: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._outcome: _Outcome | None = None
        self._finished = False  # closed by its worker, or abandoned
        stop.register(self._condition)
        self._thread = threading.Thread(
            target=self._serve, name="pypeln timeout helper", daemon=True
        )
        self._thread.start()

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> _Outcome | None:
        """The call's outcome, or None if it did not finish within ``timeout`` seconds."""
        with self._condition:
            self._job, self._outcome = (args, kwargs), None
            self._condition.notify_all()
            self._condition.wait_for(
                lambda: self._outcome is not None or self._stop.is_set, timeout
            )
            if self._outcome is not None:
                return self._outcome
            self._finished = True
            if self._stop.is_set:
                raise Stopped
            return None

    def close(self) -> None:
        with self._condition:
            self._finished = True
            self._condition.notify_all()
        self._thread.join()

    def _serve(self) -> None:
        try:
            while True:
                with self._condition:
                    self._condition.wait_for(
                        lambda: self._job is not None or self._finished or self._stop.is_set
                    )
                    if self._job is None:
                        return
                    (args, kwargs), self._job = self._job, None
                try:
                    outcome: _Outcome = (self._fn(*args, **kwargs), None)
                except BaseException as error:  # handed to the worker, which reports it
                    outcome = (None, error)
                with self._condition:
                    if self._finished:
                        return
                    self._outcome = outcome
                    self._condition.notify_all()
        finally:
            self._stop.unregister(self._condition)
