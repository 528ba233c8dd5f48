"""Relays: what a run computes once, handed to the runs of other backends that read it too.

A run reads a stage of another backend as a source, which that backend runs in a run of its
own. When that stage's graph reads something the first run computes itself (a stage of the
first run's backend, a one-shot generator, a stage of a third backend it reads directly),
the inner run would compute it a second time, and split a one-shot source between the two.
So the outer run compiles one more outbox for it (a channel only the inner run reads), and
the inner run reads a copy of its graph in which that object is a ``Relay``: a source whose
elements come from that channel, indices kept.

>>> import pypeln as pl
>>> shared = pl.thread.map(abs, iter([-1, -2]))  # over a one-shot source
>>> inner = pl.sync.map(lambda x: x * 10, shared)
>>> reads_of(inner, {id(shared)}) == [shared]
True
>>> sorted(pl.thread.concat([shared, inner]))  # shared runs once, in the thread run
[1, 2, 10, 20]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from .._errors import PypelnError, Stopped
from .._worker.kernels import Element
from .stage import Stage

#: The most elements a relay takes from its channel at once.
RELAY_BATCH = 1024


class FeedingRunStopped(PypelnError):
    """The run that relays an object to this one stopped: this run ends too (its error, if
    any, is the other run's)."""


class Relay:
    """An object computed by an enclosing run, as a run of another backend reads it: its
    elements (``(index, value)``, indices kept) come from ``open()``."""

    def __init__(self, name: str, open_elements: Callable[[], Iterator[Element]]) -> None:
        self.name = name
        self._open = open_elements

    def elements(self) -> Iterator[Element]:
        """The elements, read once (the enclosing run's channel for this run)."""
        return self._open()

    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in self._open())

    def __repr__(self) -> str:
        return f"<relay of {self.name}>"


def channel_elements(reader: Any, limit: int) -> Iterator[Element]:
    """The elements a ``ChannelReader`` delivers, to its end; a stop of the run it belongs
    to fails the reading run (else that run would wait for elements that never come)."""
    returned = 0  # the size of the batch in hand: its room goes back with the next request
    try:
        while batch := reader.get_batch(limit, returned):
            returned = len(batch)
            yield from batch
        returned = 0
    except Stopped:
        raise FeedingRunStopped("the run that feeds this one stopped") from None
    finally:
        if returned:
            reader.give_back(returned)


def reads_of(stage: Stage[Any], owned: set[int]) -> list[Iterable[Any]]:
    """The objects of ``owned`` (by id) that ``stage``'s graph reads, on any backend, each
    once; the search stops at them (what they read is theirs to compute)."""
    return walk(stage, owned)[0]


def walk(stage: Stage[Any], owned: set[int]) -> tuple[list[Iterable[Any]], list[Iterable[Any]]]:
    """What ``stage``'s graph reads (``stage`` aside), each once: the objects of ``owned``
    (where the walk stops), and every other one."""
    found: dict[int, Iterable[Any]] = {}
    others: list[Iterable[Any]] = []
    seen: set[int] = set()
    pending: list[Iterable[Any]] = list(stage.upstreams)
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if id(obj) in owned:
            found[id(obj)] = obj
            continue
        others.append(obj)
        if isinstance(obj, Stage):
            pending.extend(obj.upstreams)
    return list(found.values()), others


def shared_reads(stages: list[Stage[Any]], owned: set[int]) -> list[Iterable[Any]]:
    """The objects that the graphs of two or more of ``stages`` read, outside ``owned``:
    each graph's run would compute them again."""
    readers: dict[int, int] = {}
    objects: dict[int, Iterable[Any]] = {}
    for stage in stages:
        for obj in walk(stage, owned | {id(stage)})[1]:
            readers[id(obj)] = readers.get(id(obj), 0) + 1
            objects[id(obj)] = obj
    return [objects[key] for key, count in readers.items() if count > 1]


def relayed(
    source: Stage[Any], relays: Mapping[int, int], reader: Callable[[int], Any]
) -> Stage[Any]:
    """``source`` (a stage of another backend) as its node reads it: each object the run
    relays to it (``Node.relays``) is read from its channel (``reader(channel)``)."""
    return with_relays(
        source,
        {
            key: Relay(
                f"a source relayed to {source.name}",
                partial(channel_elements, reader(channel), RELAY_BATCH),
            )
            for key, channel in relays.items()
        },
    )


def with_relays(stage: Stage[Any], relays: Mapping[int, Relay]) -> Stage[Any]:
    """A copy of ``stage``'s graph in which each object whose id ``relays`` holds is that
    relay (shared parts stay shared: one copy per stage)."""
    copies: dict[int, Any] = {}

    def copy(obj: Any) -> Any:
        if id(obj) in relays:
            return relays[id(obj)]
        if not isinstance(obj, Stage):
            return obj
        if id(obj) not in copies:
            upstreams = tuple(copy(upstream) for upstream in obj.upstreams)
            copies[id(obj)] = dataclasses.replace(obj, upstreams=upstreams)
        return copies[id(obj)]

    copied: Stage[Any] = copy(stage)
    return copied
