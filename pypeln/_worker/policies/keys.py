"""Keys: which worker of a stage with ``key=`` an element goes to.

One router per keyed stage (a ``route`` node of the plan) calls ``destination`` on every
element it reads and hands the element to that worker's own channel. The choice is
``hash(key(item)) % workers``, made in one place: equal keys hash alike within one process,
while two processes may hash the same string differently (``PYTHONHASHSEED``), so workers
could not each pick their own share.

>>> pick = destination_of(len, 3, "map(f) key=len")
>>> [pick(((0,), word)) for word in ["a", "bb", "ccc", "dd"]]
[1, 2, 0, 2]
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from typing import Any

from ..._errors import mark_element
from ..kernels import Element
from ..order import MARKER_TYPES


def destination_of(key: Callable[[Any], Any], workers: int, stage: str) -> Callable[[Element], int]:
    """The worker (``0 .. workers - 1``) each element goes to: by its item's key.

    A marker of a streaming ``ordered`` (not an item) goes to the first worker, which passes
    it on. A key that raises, or cannot be hashed, fails the run with the element named.

    >>> destination_of(list, 2, "map(f) key=list")(((4,), "ab"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: map(f) key=list: the key ['a', 'b'] of item 'ab' cannot be hashed (...); ...
    """

    def destination(element: Element) -> int:
        index, value = element
        if value.__class__ in MARKER_TYPES:
            return 0
        try:
            found = key(value)
        except Exception as error:
            mark_element(error, index, value)
            raise
        try:
            return hash(found) % workers
        except TypeError as error:
            unhashable = TypeError(
                f"{stage}: the key {reprlib.repr(found)} of item {reprlib.repr(value)} cannot "
                f"be hashed ({error}); a key must be hashable, such as a str, a number or a "
                "tuple of them"
            )
            mark_element(unhashable, index, value)
            raise unhashable from error

    return destination
