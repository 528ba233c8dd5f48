"""Failures as policy: ``Retry``, ``Failure`` and ``SKIP``, what ``retries=`` and
``on_error=`` are given and give.

A call that raises may be tried again (``retries``); once it has failed for good, the stage's
``on_error`` decides: ``"raise"`` fails the run (the default), ``"skip"`` drops the item and
counts it, and a function receives a ``Failure`` and returns what to emit instead (``SKIP``:
nothing, counted like ``"skip"``).

>>> import pypeln as pl
>>> def parse(text):
...     return int(text)
>>> def fallback(failure):
...     return pl.SKIP if failure.item == "" else -1
>>> list(pl.sync.map(parse, ["1", "x", "", "4"], on_error=fallback))
[1, -1, 4]
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..._errors import add_note


class _Skip:
    """``pl.SKIP``: what an ``on_error`` function returns to drop the item."""

    def __repr__(self) -> str:
        return "pypeln.SKIP"

    def __reduce__(self) -> str:
        return "SKIP"  # one object in every process: it unpickles as this module's SKIP


#: Returned by an ``on_error`` function: drop the item (counted in ``RunIterator.failed()``).
SKIP: Final = _Skip()


@dataclass(frozen=True)
class Retry:
    """How a call that raises is tried again: ``attempts`` calls in all at most, the n-th
    retry after ``delay * backoff ** (n - 1)`` seconds, for exceptions of the types in ``on``
    only (a call that runs over the stage's ``timeout`` is retried too).

    ``retries=n`` on a stage is ``Retry(attempts=n + 1)``.

    >>> Retry(attempts=4, delay=0.5).delays()
    [0.5, 1.0, 2.0]
    >>> Retry(attempts=0)
    Traceback (most recent call last):
    ...
    ValueError: Retry(): attempts must be an int >= 1, got 0
    """

    attempts: int = 3
    delay: float = 0.1
    backoff: float = 2.0
    on: type[BaseException] | tuple[type[BaseException], ...] = Exception

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError(f"Retry(): attempts must be an int >= 1, got {_shown(self.attempts)}")
        if self.attempts < 1:
            raise ValueError(f"Retry(): attempts must be an int >= 1, got {self.attempts!r}")
        for name, least in (("delay", 0.0), ("backoff", 1.0)):
            value = getattr(self, name)
            expected = f"Retry(): {name} must be a finite number >= {least:g}, got"
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{expected} {_shown(value)}")
            if not math.isfinite(value) or value < least:
                raise ValueError(f"{expected} {value!r}")
        types = self.on if isinstance(self.on, tuple) else (self.on,)
        if not types or not all(isinstance(t, type) and issubclass(t, Exception) for t in types):
            raise TypeError(
                "Retry(): on must be an exception type or a non-empty tuple of them (subclasses "
                f"of Exception), got {_shown(self.on)}"
            )
        object.__setattr__(self, "on", types)

    def delays(self) -> list[float]:
        """The waits before each retry, in order."""
        return [self.delay * self.backoff**n for n in range(self.attempts - 1)]

    def wait_before(self, attempt: int) -> float:
        """The wait before call number ``attempt`` (2 for the first retry)."""
        return float(self.delay * self.backoff ** (attempt - 2))


@dataclass(frozen=True)
class Failure:
    """An item whose call failed for good, as an ``on_error`` function receives it.

    ``index`` is the item's ``element_index`` (its position in the source, a tuple);
    ``attempts`` counts the calls made; ``error`` is the last exception, with its traceback.
    It pickles (a function may return it, to collect failures downstream on any backend);
    the traceback then travels as text, attached to the error as a note.

    >>> import pickle
    >>> failure = Failure("map(parse)", "x", (1,), 0, 1, ValueError("bad"))
    >>> copy = pickle.loads(pickle.dumps(failure))
    >>> copy.stage, copy.item, copy.index, type(copy.error).__name__
    ('map(parse)', 'x', (1,), 'ValueError')
    """

    stage: str
    item: Any
    index: tuple[int, ...]
    worker: int
    attempts: int
    error: BaseException = field(repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        trace = self.error.__traceback__
        text = "".join(traceback.format_tb(trace)) if trace is not None else ""
        fields = (self.stage, self.item, self.index, self.worker, self.attempts, self.error)
        return (_arrived, (*fields, text))


def _arrived(
    stage: str,
    item: Any,
    index: tuple[int, ...],
    worker: int,
    attempts: int,
    error: BaseException,
    trace: str,
) -> Failure:
    """A ``Failure`` unpickled: its error gets the traceback it had, as a note."""
    if trace and error.__traceback__ is None:
        add_note(error, "pypeln: traceback of the failed call:\n" + trace.rstrip("\n"))
    return Failure(stage, item, index, worker, attempts, error)


#: What ``on_error`` accepts.
OnError = Literal["raise", "skip"] | Callable[[Failure], Any]


def _shown(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:120]
