"""A channel that threads and one event loop share: ``ThreadChannel`` plus async twins.

Threads call ``put_from`` / ``get_batch`` and block as on any ``ThreadChannel``; tasks of
the loop call ``aput_from`` / ``aget_batch`` and await a future instead, so the loop never
blocks on a full or empty queue. Every wake-up crosses to the side that waits: a condition
for threads, ``loop.call_soon_threadsafe`` for tasks woken from another thread (never an
asyncio object touched off its loop).

>>> import asyncio
>>> from collections import deque
>>> from pypeln._backends.common.stop_signal import StopSignal
>>> channel = LoopChannel(maxsize=2, producers=1, readers=1, stop=StopSignal())
>>> async def roundtrip():
...     channel.bind(asyncio.get_running_loop())
...     await channel.aput_from(deque([((0,), "a")]))
...     channel.close()
...     return await channel.aget_batch(10), await channel.aget_batch(10)
>>> asyncio.run(roundtrip())
([((0,), 'a')], [])
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..._errors import Stopped
from ..common.stop_signal import StopSignal
from ..common.thread_channel import ThreadChannel


class LoopChannel(ThreadChannel):
    """A ``ThreadChannel`` whose readers and producers may also be tasks of one loop.

    It builds on ``ThreadChannel``'s override points: the async twins call its steps that
    never wait, and every wake-up there also wakes the tasks waiting here.
    """

    def __init__(self, maxsize: int, producers: int, readers: int, stop: StopSignal) -> None:
        super().__init__(maxsize, producers, readers, stop)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = -1
        self._task_getters: deque[asyncio.Future[None]] = deque()
        self._task_putters: deque[asyncio.Future[None]] = deque()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop whose tasks use the async methods; called from that loop's thread."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    async def aput_from(self, pending: deque[Any], reserve: int = 0) -> int:
        """``put_from`` for a task: await room instead of blocking the loop."""
        while True:
            with self._lock:
                if self._stop.is_set:
                    raise Stopped
                self._move_in(pending)
                if not pending:
                    return self._reserve(pending, reserve)
                waiter = self._waiter(self._task_putters)
            await self._wait(waiter, self._task_putters)

    async def aget_batch(
        self, limit: int, returned: int = 0, before_wait: Callable[[], None] | None = None
    ) -> list[Any]:
        """``get_batch`` for a task: await items instead of blocking the loop."""
        if returned:
            with self._lock:
                self._give_back(returned)
        while True:
            with self._lock:
                if self._items:
                    return self._take(limit)
                call_first, before_wait = before_wait, None
                if call_first is None:
                    ready = self._ready_to_take()
                    if ready is None:
                        return []
                    if ready:
                        return self._take(limit)
                    waiter = self._waiter(self._task_getters)
            if call_first is not None:  # without the lock, then look again
                call_first()
                continue
            await self._wait(waiter, self._task_getters)

    def wake_all(self) -> None:
        """Wake every waiting task (the run stops: each looks at the stop signal)."""
        with self._lock:
            self._wake(self._task_getters, len(self._task_getters))
            self._wake(self._task_putters, len(self._task_putters))

    # -- wake-ups: the base class's, plus waiting tasks ------------------------------------

    def _wake_getters(self, moved: int) -> None:
        if self._task_getters:
            self._wake(self._task_getters, moved)
            if not self._getters:
                self.hungry = max(0, self.hungry - moved)
        super()._wake_getters(moved)  # threads at once: a task may hold the loop a while

    def _in_loop(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _wake_putters(self, count: int) -> None:
        if self._task_putters:
            self._wake(self._task_putters, len(self._task_putters))
        super()._wake_putters(count)

    def _wake_at_end(self) -> None:
        self._wake(self._task_getters, len(self._task_getters))
        super()._wake_at_end()

    def _waiter(self, waiters: deque[asyncio.Future[None]]) -> asyncio.Future[None]:
        assert self._loop is not None, "LoopChannel.bind() was not called"
        waiter = self._loop.create_future()
        waiters.append(waiter)
        return waiter

    async def _wait(
        self, waiter: asyncio.Future[None], waiters: deque[asyncio.Future[None]]
    ) -> None:
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                if waiter in waiters:  # cancelled while waiting: leave the queue
                    waiters.remove(waiter)
                elif not waiter.cancelled():  # woken, then cancelled: pass the wake-up on
                    self._wake(waiters, 1)
            raise

    def _wake(self, waiters: deque[asyncio.Future[None]], count: int) -> None:
        """Resolve the first ``count`` waiters, from whichever thread (called with the lock)."""
        loop = self._loop
        if loop is None:
            return
        in_loop = self._in_loop()
        for _ in range(min(count, len(waiters))):
            waiter = waiters.popleft()
            if in_loop:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                try:
                    loop.call_soon_threadsafe(resolve, waiter)
                except RuntimeError:  # the loop is closed: nobody waits there any more
                    return


def resolve(waiter: asyncio.Future[None]) -> None:
    """Wake ``waiter`` unless it is done already (cancelled, or woken before)."""
    if not waiter.done():
        waiter.set_result(None)
