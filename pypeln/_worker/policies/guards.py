"""A stage's call under its error policy: retried while ``retries`` allow, then handed to
``on_error`` (``failures.py`` holds what users pass and receive).

The guard wraps the call that a kernel makes (after the stage's ``timeout``, so an overrun
is a failure to retry too) and always takes ``element_index``, which a ``Failure`` names.
It returns a result, or the kernels' ``SKIP`` for an item that is dropped and counted;
with ``on_error="raise"`` the last error goes on to the kernel, which labels it.

>>> import time
>>> from pypeln._worker.counters import WorkerCounters
>>> from pypeln._worker.policies.failures import Retry
>>> calls = []
>>> def flaky(x):
...     calls.append(x)
...     if len(calls) < 3:
...         raise OSError("busy")
...     return x * 10
>>> counters = WorkerCounters()
>>> guard = Guard(flaky, False, "map(flaky)", 0, counters, Retry(3, delay=0), "raise", time.sleep)
>>> guard(4, element_index=(0,)), len(calls)
(40, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..async_kernels import is_awaitable
from ..counters import Counters
from ..kernels import SKIP
from .failures import SKIP as USER_SKIP
from .failures import Failure, OnError, Retry

NO_RETRY = Retry(attempts=1)


class Attempts(Protocol):
    """The stage's deadline, told before each call whether it is the last attempt."""

    final: bool


class Pause(Protocol):
    """Waits ``seconds`` before a retry and raises ``Stopped`` as soon as the run stops; a
    task worker's returns an awaitable, which its guard awaits."""

    def __call__(self, seconds: float) -> Any: ...


class Guard:
    """``fn`` under the stage's ``retry`` and ``on_error`` (see the module docstring)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        wants_index: bool,
        stage: str,
        worker: int | None,
        counters: Counters,
        retry: Retry | None,
        on_error: OnError,
        pause: Pause,
        deadline: Attempts | None = None,
    ) -> None:
        self._fn = fn
        self._wants_index = wants_index  # whether fn itself asked for element_index
        self._stage = stage
        self._worker = worker or 0
        self._counters = counters
        self._retry = retry or NO_RETRY
        self._handler = on_error if callable(on_error) else None
        self._skips = on_error == "skip"
        self._pause = pause
        self._deadline = deadline

    def __call__(self, value: Any, *, element_index: tuple[int, ...]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            timed_out = self._counters.timed_out
            try:
                result = self._call(value, element_index, attempt)
            except Exception as error:
                wait = self._wait(attempt, error)
                if wait is None:
                    handled = self._give_up(error, value, element_index, attempt)
                    return handled if handled is SKIP else self._settled(handled)
            else:
                wait = self._wait_after_timeout(attempt, timed_out, result)
                if wait is None:
                    return result
            self._pause(wait)

    def _call(self, value: Any, index: tuple[int, ...], attempt: int) -> Any:
        if self._deadline is not None:
            self._deadline.final = attempt >= self._retry.attempts
        return self._fn(value, element_index=index) if self._wants_index else self._fn(value)

    def _wait(self, attempt: int, error: Exception) -> float | None:
        """Seconds to wait before trying again after ``error``; None: no more attempts."""
        retry = self._retry
        if attempt < retry.attempts and isinstance(error, retry.on):
            return retry.wait_before(attempt + 1)
        return None

    def _wait_after_timeout(self, attempt: int, timed_out: int, result: Any) -> float | None:
        """Seconds to wait before trying again a call that ran over the stage's timeout (the
        deadline counted it and gave ``SKIP``); None: keep ``result``."""
        retry, counters = self._retry, self._counters
        if result is not SKIP or counters.timed_out == timed_out or attempt >= retry.attempts:
            return None
        counters.timed_out = timed_out  # tried again: not skipped (yet)
        return retry.wait_before(attempt + 1)

    def _give_up(self, error: Exception, value: Any, index: tuple[int, ...], attempts: int) -> Any:
        """The calls failed for good: raise ``error`` (``"raise"``), or ``SKIP`` for an item
        dropped and counted (``"skip"``), or what the ``on_error`` function returned for its
        ``Failure`` (perhaps awaitable). Called in the ``except`` block, so that an error of
        the function names this one as its context."""
        if self._handler is None:
            if not self._skips:
                raise error
            self._counters.failed += 1
            return SKIP
        return self._handler(Failure(self._stage, value, index, self._worker, attempts, error))

    def _settled(self, result: Any) -> Any:
        """What the ``on_error`` function returned, as the kernels take it."""
        if result is USER_SKIP:
            self._counters.failed += 1
            return SKIP
        return result


class AsyncGuard(Guard):
    """``Guard`` for a task worker: results of ``fn`` and ``on_error`` are awaited if they
    are awaitable, and so are the pauses."""

    async def __call__(self, value: Any, *, element_index: tuple[int, ...]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            timed_out = self._counters.timed_out
            try:
                result = self._call(value, element_index, attempt)
                if is_awaitable(result):
                    result = await result
            except Exception as error:
                wait = self._wait(attempt, error)
                if wait is None:
                    handled = self._give_up(error, value, element_index, attempt)
                    if handled is SKIP:
                        return SKIP
                    return self._settled((await handled) if is_awaitable(handled) else handled)
            else:
                wait = self._wait_after_timeout(attempt, timed_out, result)
                if wait is None:
                    return result
            await self._pause(wait)
