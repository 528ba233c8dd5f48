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
from types import TracebackType
from typing import Any

from typing_extensions import Self


class HoldsLock:
    """``with obj:`` holds ``obj._lock`` (the part every backend's Namespace shares)."""

    __slots__ = ()
    _lock: Any

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

    # ``async with ns:`` as in pypeln 0.4.9's task backend. The lock is held for a few lines
    # of code, so taking it inside the event loop keeps the loop waiting for no longer.
    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


class Namespace(HoldsLock):
    """An attribute bag shared by every worker; ``with ns:`` holds its (reentrant) lock."""

    __slots__ = ("__dict__", "_lock")

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_lock", threading.RLock())
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
