"""Descriptors inside a pickled worker spec: collected while pickling, mapped back on loading.

A worker started by the fork server or by spawn gets its spec as bytes and its descriptors
beside them (over the server's socket, or kept open across ``exec``), under other numbers.
In the spec a descriptor is ``inherit(fd)``: pickling it inside ``collecting()`` records the
descriptor and writes its position in the list; loading it inside ``receiving(fds)`` gives
the descriptor at that position. A fork child needs none of this: it inherits the spec.

>>> import pickle
>>> with collecting() as fds:
...     payload = pickle.dumps([inherit(7), inherit(9), inherit(7), inherit(-1)])
>>> fds
[7, 9]
>>> with receiving([20, 21]):
...     pickle.loads(payload)
[20, 21, 20, -1]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_state = threading.local()


def inherit(fd: int) -> Any:
    """``fd`` as a spec carries it to a worker process (-1, "none", stays -1)."""
    return _InheritedFd(fd) if fd >= 0 else fd


@contextmanager
def collecting() -> Iterator[list[int]]:
    """Pickle a spec in here; the list names its descriptors, in the order to send them."""
    fds: list[int] = []
    _state.collected = fds
    try:
        yield fds
    finally:
        del _state.collected


@contextmanager
def receiving(fds: list[int]) -> Iterator[None]:
    """Load a spec in here, with the descriptors that came beside it."""
    _state.received = fds
    try:
        yield
    finally:
        del _state.received


class _InheritedFd:
    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        collected: list[int] | None = getattr(_state, "collected", None)
        if collected is None:
            raise TypeError("a descriptor is only pickled to start a worker process")
        if self.fd not in collected:
            collected.append(self.fd)
        return (_received, (collected.index(self.fd),))


def _received(position: int) -> int:
    fd: int = _state.received[position]
    return fd
