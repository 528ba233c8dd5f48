"""``Namespace`` for the ray backend: the same attribute bag, kept by a small Ray actor.

Every actor of every run, wherever in the cluster, reads and writes it through that actor;
``with ns:`` holds a reentrant lock the actor keeps (held per process and thread; a worker
killed inside ``with ns:`` leaves it held).

>>> import pypeln as pl
>>> ns = pl.ray.Namespace(count=0)
>>> with ns:
...     ns.count += 1
>>> ns
Namespace(count=1)
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import weakref
from typing import Any

import ray

from ..common import shared_state as in_process
from .cluster import connect


class _Keeper:
    """The actor that holds the values and the lock. Its methods are coroutines of one
    event loop: a caller waiting for the lock holds no thread, so any number may wait."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._holder: tuple[str, int] | None = None
        self._depth = 0
        self._changed: asyncio.Condition | None = None  # made in the actor's loop

    async def get(self, name: str) -> tuple[bool, Any]:
        return (name in self._values), self._values.get(name)

    async def set(self, name: str, value: Any) -> None:
        self._values[name] = value

    async def values(self) -> dict[str, Any]:
        return dict(self._values)

    async def acquire(self, holder: tuple[str, int]) -> None:
        changed = self._changed = self._changed or asyncio.Condition()
        async with changed:
            await changed.wait_for(lambda: self._holder in (None, holder))
            self._holder = holder
            self._depth += 1

    async def release(self, holder: tuple[str, int]) -> None:
        changed = self._changed = self._changed or asyncio.Condition()
        async with changed:
            if self._holder != holder:
                raise RuntimeError("Namespace: released by a holder that does not hold it")
            self._depth -= 1
            if self._depth == 0:
                self._holder = None
                changed.notify_all()


_remote: Any = ray.remote  # its stubs lack the options of async actors
_RemoteKeeper: Any = _remote(max_concurrency=100_000, num_cpus=0)(_Keeper)

#: This process, among every process of the cluster (a pid alone may repeat across nodes).
_PROCESS = uuid.uuid4().hex


class _Lock:
    """The keeper's lock, held by this process and thread."""

    def __init__(self, keeper: Any) -> None:
        self.keeper = keeper

    def acquire(self) -> None:
        ray.get(self.keeper.acquire.remote((_PROCESS, threading.get_ident())))

    def release(self) -> None:
        ray.get(self.keeper.release.remote((_PROCESS, threading.get_ident())))


class Namespace(in_process.HoldsLock):
    __doc__ = in_process.Namespace.__doc__
    __slots__ = ("_keeper", "_lock", "_task_locks")

    def __init__(self, **kwargs: Any) -> None:
        connect(None)
        keeper = _RemoteKeeper.remote(kwargs)
        _attach(self, keeper)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        found, value = ray.get(object.__getattribute__(self, "_keeper").get.remote(name))
        if not found:
            raise AttributeError(f"Namespace has no attribute {name!r}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        ray.get(self._keeper.set.remote(name, value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_attached, (self._keeper,))

    def __repr__(self) -> str:
        values = ray.get(self._keeper.values.remote())
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"


def _attach(namespace: Namespace, keeper: Any) -> None:
    object.__setattr__(namespace, "_keeper", keeper)
    object.__setattr__(namespace, "_lock", _Lock(keeper))
    object.__setattr__(namespace, "_task_locks", weakref.WeakKeyDictionary())


def _attached(keeper: Any) -> Namespace:
    namespace = Namespace.__new__(Namespace)
    _attach(namespace, keeper)
    return namespace
