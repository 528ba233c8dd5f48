"""What a blocking worker is doing, for the stall report: the batch it works through.

The worker notes each batch once (never each item: this is the hot path); the report
works out which element it holds from how far the batch's iterator has gone.

>>> activity = WorkerActivity()
>>> items = activity.working_on([((0,), "a"), ((1,), "b")])
>>> next(items), activity.holding()
(((0,), 'a'), (0,))
>>> activity.waiting(); activity.holding() is None
True
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import length_hint
from typing import Any

from .kernels import Element, Index


class WorkerActivity:
    """The batch one worker works through; None while it waits for input."""

    def __init__(self) -> None:
        self._current: tuple[list[Element], Iterator[Element]] | None = None

    def working_on(self, batch: list[Element]) -> Iterator[Element]:
        """The iterator the worker reads ``batch`` from (the report follows its position)."""
        items = iter(batch)
        self._current = (batch, items)  # one store: a reader sees both or neither
        return items

    def waiting(self) -> None:
        """The worker asks for input: it holds no element."""
        self._current = None

    def holding(self) -> Index | None:
        """The index of the element the worker took last from its batch (from any thread)."""
        current: Any = self._current
        if current is None:
            return None
        batch, items = current
        taken = len(batch) - length_hint(items)
        return batch[taken - 1][0] if taken else None
