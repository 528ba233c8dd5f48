"""What crosses between the processes of a run: batches of elements (errors: ``remote/``).

Batches are pickled once per hand-off (``remote/pickling.py``: ``pickle``, falling back to
``cloudpickle`` for lambdas and local classes); with a ``BufferArena``, their large buffers
go through shared memory (``memory/buffers.py``). An element that cannot be pickled is
named, with the trip it could not make.

>>> [frame] = encode_batch([((0,), "a")], Route("stage 'map(f)': its result", "to the consumer"))
>>> decode_batch(frame)
[((0,), 'a')]
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..._errors import SerializationError
from ..remote.pickling import dumps, unpicklable
from .memory.buffers import BufferArena, BufferViews


@dataclass(frozen=True)
class Route:
    """Where a writer's batches go: how errors name the trip, and how the batches are pickled.

    ``main_by_value``: the readers do not share the writer's ``__main__`` (see ``dumps``).
    """

    what: str  # "stage 'map(f)': its result", or "the item"
    way: str  # "from its worker process to the consumer", "from <source> to the worker …"
    main_by_value: bool = False


def encode_batch(
    batch: list[Any], route: Route, arena: BufferArena | None = None
) -> Iterable[bytes]:
    """The batch as frames, to send in turn (``BufferArena.encode``); an element that
    cannot be pickled is named with its index and the trip it could not make."""
    try:
        if arena is None:
            return [dumps(batch, main_by_value=route.main_by_value)]
        return arena.encode(batch, route.main_by_value)
    except Exception as error:
        raise _unpicklable(batch, route, error) from error


def decode_batch(payload: bytes | bytearray, views: BufferViews | None = None) -> list[Any]:
    if views is not None:
        return views.decode(payload)
    batch: list[Any] = pickle.loads(payload)
    return batch


def _unpicklable(batch: list[Any], route: Route, error: Exception) -> SerializationError:
    trip = f"go {route.way}"
    return unpicklable(batch, route.what, trip, error, main_by_value=route.main_by_value)
