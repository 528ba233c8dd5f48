"""``Namespace``: shared, mutable state for the workers of the in-process backends.

>>> ns = Namespace(count=0)
>>> with ns:  # holds the lock, so read-modify-write is safe across threads
...     ns.count += 1
>>> ns
Namespace(count=1)
>>> import asyncio
>>> async def bump():
...     async with ns:  # the same lock, from async code
...         ns.count += 1
>>> asyncio.run(bump()); ns.count
2
"""

from __future__ import annotations

import threading
import weakref
from types import TracebackType
from typing import Any

from typing_extensions import Self


class HoldsLock:
    """``with obj:`` holds ``obj._lock`` (the part every backend's Namespace shares)."""

    __slots__ = ()
    _lock: Any
    _task_locks: weakref.WeakKeyDictionary[Any, Any]

    def __enter__(self) -> Self:
        self._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()

    # ``async with ns:``, as in pypeln 0.4.9's task backend. Tasks of one event loop share
    # its thread, where the reentrant lock would let them all in at once: they take turns on
    # an asyncio lock of that loop first, then take the lock (threads hold it for a few lines
    # of code: a short wait).
    async def __aenter__(self) -> Self:
        await self._task_lock().acquire()
        try:
            self._lock.acquire()
        except BaseException:
            self._task_lock().release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        self._task_lock().release()

    def _task_lock(self) -> Any:
        """The running loop's asyncio lock for this object (one per loop: a run's loop ends
        with the run, and an asyncio lock serves one loop only)."""
        import asyncio  # only async code gets here: importing pypeln.thread needs no asyncio

        loop = asyncio.get_running_loop()
        lock = self._task_locks.get(loop)
        if lock is None:
            lock = self._task_locks[loop] = asyncio.Lock()
        return lock


class Namespace(HoldsLock):
    """An attribute bag shared by every worker; ``with ns:`` holds its (reentrant) lock."""

    __slots__ = ("__dict__", "_lock", "_task_locks")

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_task_locks", weakref.WeakKeyDictionary())
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes; declared so that typed code may read any name.
        raise AttributeError(f"Namespace has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # Declared so that typed code may set any name (``ns.total += 1``).
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.__dict__.items())
        return f"Namespace({fields})"
