"""Elements of what lies outside a backend: a plain iterable, or a stage of another backend.

A plain iterable is numbered from 0; a stage of another backend is run by its own backend and
keeps its indices, which is how backends mix in one pipeline and ``ordered`` still works.

>>> list(elements_of(["a", "b"], "from_iterable(list)", None))
[((0,), 'a'), ((1,), 'b')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import count
from typing import Any

from .._errors import mark_stage
from .._worker.counters import RunStatistics
from .._worker.kernels import Element
from .relay import Relay
from .stage import Stage, read_asynchronously, source_name

__all__ = ["elements_of", "source_name"]


def elements_of(
    source: Iterable[Any], name: str, stats: RunStatistics | None, *, labelled: bool = True
) -> Iterator[Element]:
    """The elements of ``source``; a failure of the iterable itself is labelled ``name``.

    ``name`` is what ``source_name`` gives: a stage of another backend labels its own
    errors, and they pass through. ``labelled=False`` leaves labelling to the caller, which
    saves a generator step per element where the caller catches every error anyway (a
    source worker).
    """
    if not isinstance(source, (Iterable, Stage)):  # an async iterable: a task run reads it
        source = read_asynchronously(source, name)
    if isinstance(source, Stage):
        elements = source.backend.iterate(source, 0, stats or RunStatistics())
    elif isinstance(source, Relay):  # computed by the run around this one: indices kept
        elements = source.elements()
    else:
        # zip(count()) makes the 1-tuples (i,) in C: numbering costs no Python bytecode.
        elements = zip(zip(count()), source)  # noqa: B905 - count() never ends
    return _labelled(elements, name) if labelled else elements


def _labelled(elements: Iterator[Element], name: str) -> Iterator[Element]:
    try:
        yield from elements
    except Exception as error:
        mark_stage(error, name, None)
        raise
