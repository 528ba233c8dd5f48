"""An exception that crosses from a worker in another process to the consumer.

It keeps its type, arguments, attributes, notes and cause; the worker's traceback, which
cannot be pickled, travels as frames (``tracebacks.py``) and is attached as a note. An
exception that cannot be rebuilt in the consumer arrives as a ``RemoteError`` carrying its
type name, message and traceback text.

>>> error = unpack_error(pack_error(KeyError("k")))
>>> type(error).__name__, error.args
('KeyError', ('k',))
"""

from __future__ import annotations

import pickle
from typing import Any

from ..._errors import RemoteError, add_note
from .pickling import PROTOCOL, dumps
from .tracebacks import capture, render

#: How many causes of an exception (``raise ... from ...``) travel with it.
MAX_CAUSES = 8


def pack_error(error: BaseException, *, main_by_value: bool = False, depth: int = 0) -> bytes:
    """The exception as bytes that ``unpack_error`` turns back into it (see module doc).

    ``main_by_value``: this process does not share the consumer's ``__main__`` (a worker
    started as a fresh interpreter, a Ray actor): classes defined there travel by value.
    """
    frames = capture(error.__traceback__)
    cause = error.__cause__
    packed_cause = (
        pack_error(cause, main_by_value=main_by_value, depth=depth + 1)
        if cause is not None and depth < MAX_CAUSES
        else None
    )
    body = _pickled(error, main_by_value)
    packed = (type(error).__qualname__, _message(error), frames, body, packed_cause)
    return pickle.dumps(packed, PROTOCOL)


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as broken:  # a __str__ that raises must not hide the error itself
        return f"<str() failed: {type(broken).__name__}> {error.args!r}"


def unpack_error(payload: bytes | bytearray, where: str = "the worker process") -> BaseException:
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
    add_note(error, f"pypeln: traceback in {where}:\n" + text)
    if cause is not None:
        error.__cause__ = unpack_error(cause, where)
    return error


def _pickled(error: BaseException, main_by_value: bool) -> bytes | None:
    """``error`` pickled so that it loads again, or None if it cannot be."""
    for candidate in (error, _ByState(error)):
        try:
            body = dumps(candidate, main_by_value=main_by_value)
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
