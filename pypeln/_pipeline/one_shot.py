"""One-shot sources (generators, any iterator) read by more than one run.

Every iteration of a stage is a new run, and a run reads its sources from wherever they
are. A list is read whole again; a generator is not: the second run gets what the first
left, usually nothing, and silently so. ``note_reads`` warns when a run starts reading a
one-shot source that an earlier run already read.

>>> import warnings
>>> import pypeln as pl
>>> stage = pl.sync.map(str, iter([1, 2]))
>>> list(stage)
['1', '2']
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     list(stage)
[]
>>> caught[0].category.__name__
'OneShotSourceWarning'
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any


class OneShotSourceWarning(RuntimeWarning):
    """A run reads a generator (or other iterator) that an earlier run already read."""


#: id(source) -> the stage that read it last. The stage holds the source, so while the stage
#: lives the id is the source's; the entry goes when the stage does.
_readers: dict[int, weakref.ref[Any]] = {}


def is_one_shot(source: object) -> bool:
    """Whether reading ``source`` consumes it: an iterator (``iter(x) is x``), sync or async.

    >>> is_one_shot([1]), is_one_shot(iter([1])), is_one_shot(x for x in "")
    (False, True, True)
    """
    return isinstance(source, (Iterator, AsyncIterator))


def note_reads(reader: Any, source: object, stacklevel: int) -> None:
    """A run starts: ``reader`` (a stage) reads the one-shot ``source``; warn if a run did.

    ``stacklevel`` is ``warnings.warn``'s, counted from the caller of this function.
    """
    key = id(source)
    previous = _readers.get(key)
    holder = None if previous is None else previous()
    if holder is not None and any(upstream is source for upstream in holder.upstreams):
        kind = type(source).__name__
        warnings.warn(
            f"{reader.name} reads an iterator ({kind}) that an earlier run already read: this "
            "run gets only what that run left of it (usually nothing). Every iteration of a "
            "stage is a new run; pass a list (or another collection that can be read again), "
            "or make a new iterator for each run (build the stage in a function)",
            OneShotSourceWarning,
            stacklevel=stacklevel + 1,
        )
    _readers[key] = weakref.ref(reader, lambda ref: _forget(key, ref))


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    if _readers.get(key) is ref:
        del _readers[key]
