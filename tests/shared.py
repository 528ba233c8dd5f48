"""What a test and a backend's workers both see: events, barriers, locks, lists.

For in-process backends these are the ``threading`` objects and plain lists; for workers
in other processes, proxies to a manager process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Shared:
    """Factory of shared objects; ``manager`` is None for in-process backends."""

    def __init__(self, manager: Any | None) -> None:
        self._manager = manager

    def event(self) -> Any:
        return threading.Event() if self._manager is None else self._manager.Event()

    def barrier(self, parties: int, timeout: float) -> Any:
        if self._manager is None:
            return threading.Barrier(parties, timeout=timeout)
        return self._manager.Barrier(parties, timeout=timeout)

    def lock(self) -> Any:
        return threading.Lock() if self._manager is None else self._manager.Lock()

    def list(self) -> Any:
        return [] if self._manager is None else self._manager.list()


def interrupt_main_until(done: threading.Event, every: float = 5.0) -> None:
    """Send SIGINT to the main thread (as Ctrl-C in a terminal does), again every ``every``
    seconds until ``done`` is set.

    A signal that lands just before the main thread enters a blocking lock wait or poll()
    is only handled once that wait ends (CPython checks for signals before the call, and
    the call is not interrupted): one more signal then wakes it. ``every`` is longer than
    any teardown, so a second signal never lands in one.
    """
    import signal

    main = threading.main_thread().ident or 0
    while not done.is_set():
        signal.pthread_kill(main, signal.SIGINT)
        done.wait(every)


@contextmanager
def ctrl_c_when(ready: Callable[[], object]) -> Iterator[None]:
    """Inside the block, Ctrl-C the main thread once ``ready()`` returns (the workers are
    where the test wants them), again until the block is left (``interrupt_main_until``).

    >>> import time
    >>> caught = False
    >>> try:
    ...     with ctrl_c_when(lambda: None):
    ...         time.sleep(30)
    ... except KeyboardInterrupt:
    ...     caught = True
    >>> caught
    True
    """
    interrupted = threading.Event()

    def interrupt_when_ready() -> None:
        ready()
        interrupt_main_until(interrupted)

    interrupter = threading.Thread(target=interrupt_when_ready)
    try:
        interrupter.start()  # the first signal may land in here already
        yield
    finally:
        interrupted.set()
        interrupter.join()
