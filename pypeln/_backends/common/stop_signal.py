"""The run's "stop now": one flag, and every wait of the run wakes when it is set.

Channels, timed calls and the sync backend's helper threads register their conditions;
``set()`` marks the run stopped before it wakes any of them, so a woken waiter always sees
why it woke.

>>> import threading
>>> stop = StopSignal()
>>> condition = threading.Condition()
>>> stop.register(condition)
>>> stop.set(); stop.is_set
True
"""

from __future__ import annotations

import threading

from ..._errors import Stopped


class StopSignal:
    """The run's "stop now": setting it wakes every wait registered with it."""

    def __init__(self) -> None:
        self.is_set = False
        self._lock = threading.Lock()
        self._conditions: set[threading.Condition] = set()

    def register(self, condition: threading.Condition) -> None:
        """Wake ``condition``'s waiters when the signal is set."""
        with self._lock:
            self._conditions.add(condition)

    def unregister(self, condition: threading.Condition) -> None:
        with self._lock:
            self._conditions.discard(condition)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (a retry's delay); raise ``Stopped`` as soon as the signal is set."""
        condition = threading.Condition()
        self.register(condition)
        try:
            with condition:
                if condition.wait_for(lambda: self.is_set, seconds):
                    raise Stopped
        finally:
            self.unregister(condition)

    def set(self) -> None:
        """Stop: waiters see ``is_set`` because it is set before any of them is notified."""
        with self._lock:
            if self.is_set:
                return
            self.is_set = True
            conditions = list(self._conditions)
        for condition in conditions:
            with condition:
                condition.notify_all()
