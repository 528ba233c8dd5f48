"""The first error of a run: kept from whichever thread reports it, raised once.

Every run stops at its first error and raises that one; errors after it (often caused by
the stop) are dropped.

>>> first = FirstError()
>>> first.keep(KeyError("first")), first.keep(KeyError("second"))
(True, False)
>>> first.raise_it()
Traceback (most recent call last):
...
KeyError: 'first'
>>> first.raise_it()  # raised once: nothing left
"""

from __future__ import annotations

import threading


class FirstError:
    """Holds the first error reported (thread-safe)."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def keep(self, error: BaseException) -> bool:
        """Keep ``error`` if it is the first; whether it was."""
        with self._lock:
            if self.error is not None:
                return False
            self.error = error
            return True

    def raise_it(self) -> None:
        """Raise the kept error, if any, and forget it."""
        error, self.error = self.error, None
        if error is not None:
            raise error
