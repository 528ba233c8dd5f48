"""What crosses a process boundary: batches of elements, and exceptions.

Batches are pickled once per hand-off (``process/pickling.py``: ``pickle``, falling back to
``cloudpickle`` for lambdas and local classes); with a ``BufferArena``, their large buffers
go through shared memory (``memory/buffers.py``). An exception keeps its type, arguments,
attributes, notes and cause; the worker's traceback, which cannot be pickled, travels as
frames (``process/remote_traceback.py``) and is attached as a note. An exception that cannot be
rebuilt in the consumer arrives as a ``RemoteError`` carrying its type name, message and
traceback text.

>>> [frame] = encode_batch([((0,), "a")], Route("stage 'map(f)': its result", "to the consumer"))
>>> decode_batch(frame)
[((0,), 'a')]
>>> error = unpack_error(pack_error(KeyError("k")))
>>> type(error).__name__, error.args
('KeyError', ('k',))
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..._errors import RemoteError, SerializationError, add_note
from .memory.buffers import BufferArena, BufferViews
from .pickling import PROTOCOL, dumps
from .remote_traceback import capture, render

#: How many causes of an exception (``raise ... from ...``) travel with it.
MAX_CAUSES = 8


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
    for index, value in batch:
        try:
            dumps(value, main_by_value=route.main_by_value)
        except Exception as item_error:
            return SerializationError(
                f"{route.what} at index {index} ({type(value).__name__}) cannot be pickled to "
                f"go {route.way}: {type(item_error).__name__}: {item_error}"
            )
    return SerializationError(f"{route.what}: a batch cannot be pickled to go {route.way}: {error}")


def pack_error(error: BaseException, depth: int = 0) -> bytes:
    """The exception as bytes that ``unpack_error`` turns back into it (see module doc)."""
    frames = capture(error.__traceback__)
    cause = error.__cause__
    packed_cause = (
        pack_error(cause, depth + 1) if cause is not None and depth < MAX_CAUSES else None
    )
    packed = (type(error).__qualname__, _message(error), frames, _pickled(error), packed_cause)
    return pickle.dumps(packed, PROTOCOL)


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as broken:  # a __str__ that raises must not hide the error itself
        return f"<str() failed: {type(broken).__name__}> {error.args!r}"


def unpack_error(payload: bytes | bytearray) -> BaseException:
    type_name, message, frames, body, cause = pickle.loads(payload)
    text = render(frames, type_name, message)
    error: BaseException | None = None
    if body is not None:
        try:
            error = pickle.loads(body)
        except Exception:
            error = None
    if error is None:
        error = RemoteError(type_name, message, text)
    add_note(error, "pypeln: traceback in the worker process:\n" + text)
    if cause is not None:
        error.__cause__ = unpack_error(cause)
    return error


def _pickled(error: BaseException) -> bytes | None:
    """``error`` pickled so that it loads again, or None if it cannot be."""
    for candidate in (error, _ByState(error)):
        try:
            body = dumps(candidate)
            pickle.loads(body)  # an exception whose __init__ wants other arguments fails here
            return body
        except Exception:
            continue
    return None


class _ByState:
    """Rebuilds an exception from its type, ``args`` and attributes, without ``__init__``.

    Exceptions whose constructor takes other arguments than it passes to ``super()``
    cannot be unpickled the usual way (``type(*args)``); this way they can.
    """

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        error = self.error
        return (_rebuild, (type(error), error.args, dict(getattr(error, "__dict__", {}))))


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error
