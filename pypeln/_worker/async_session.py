"""A task worker's hold on a stage: ``WorkerSession`` whose hooks and ``f`` may be async.

``on_start`` and ``on_done`` may be ``async def`` (or return an awaitable): the session
awaits them. A ``timeout`` cancels the call that runs over it (asyncio cancellation); the
element is skipped and counted.

>>> import asyncio
>>> import pypeln as pl
>>> from pypeln._worker.hooks import ActiveWorkers
>>> from pypeln._worker.counters import WorkerCounters
>>> async def start():
...     return {"k": 3}
>>> async def times(x, k):
...     return x * k
>>> stage = pl.task.map(times, [1], on_start=start)
>>> async def main():
...     session = AsyncWorkerSession(stage, 0, ActiveWorkers(1), WorkerCounters(), AsyncDeadline)
...     call = await session.aopen()
...     result = await call.fn(5)
...     await session.aclose()
...     return result
>>> asyncio.run(main())
15
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from time import perf_counter
from typing import Any

from .async_kernels import is_awaitable, resolved
from .counters import Counters
from .hooks import Call
from .kernels import SKIP
from .policies.guards import AsyncGuard
from .policies.rate import alimited
from .session import WorkerSession


class AsyncWorkerSession(WorkerSession):
    """``WorkerSession`` for a worker in the event loop: hooks are awaited if async."""

    guard_type = AsyncGuard
    in_turn = staticmethod(alimited)

    @staticmethod
    async def sleep(seconds: float) -> Any:
        await asyncio.sleep(seconds)  # cancelled when the run stops

    async def aopen(self) -> Call:
        """Run (and await) ``on_start``; return the call for this worker."""
        hook = self._start_hook()
        resources = None if hook is None else await resolved(self._call_hook("on_start", *hook))
        return self._started(resources)

    async def aclose(self) -> None:
        """Count this worker as finished, then run (and await) ``on_done``."""
        hook = self._done_hook()
        if hook is not None:
            await resolved(self._call_hook("on_done", *hook))

    async def aclose_quietly(self) -> None:
        """``aclose()`` on a worker that is failing or stopping: the first error wins."""
        try:
            await self.aclose()
        except Exception:  # reporting it would mask the error that stopped the run
            pass

    def _materialized(self, f: Callable[..., Any]) -> Callable[..., Any]:
        async def call_to_list(*args: Any, **kwargs: Any) -> list[Any]:
            results = await resolved(f(*args, **kwargs))
            if hasattr(results, "__aiter__"):
                return [result async for result in results]
            return list(results)

        return call_to_list


class AsyncDeadline:
    """``f`` whose awaited call is cancelled after ``timeout`` seconds, returning ``SKIP``.

    A result that is not awaitable (a plain function that already returned) cannot be
    interrupted: it is dropped and counted if it came too late, as on ``sync``.
    """

    final = True  # whether an overrun call is tried again changes nothing here

    def __init__(self, fn: Callable[..., Any], timeout: float, counters: Counters) -> None:
        self._fn = fn
        self._timeout = timeout
        self._counters = counters

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        result = self._fn(*args, **kwargs)
        if not is_awaitable(result):
            if perf_counter() - started <= self._timeout:
                return result
            self._counters.timed_out += 1
            return SKIP
        try:
            return await asyncio.wait_for(result, self._timeout)
        except asyncio.TimeoutError:
            if perf_counter() - started < self._timeout:
                raise  # the call's own TimeoutError, raised early: the user's error
            self._counters.timed_out += 1
            return SKIP

    def close(self) -> None:
        """Nothing to release."""
