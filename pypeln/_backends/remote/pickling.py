"""Pickling for the trip between processes: protocol 5, with large buffers kept apart.

``pickle`` first, ``cloudpickle`` for what it cannot do (lambdas, closures, local classes).
Functions and classes of the main module go by value (cloudpickle) when the receiving process
does not share this one's main module (a worker started by the fork server or by spawn never
runs the user's script); code objects keep their file name, so that a worker's traceback
shows the user's file, line and source. Both also pickle ``memoryview`` (which plain pickle
refuses), handing a large one's contents to pickle's out-of-band buffers like a numpy
array's, so that ``memory/buffers.py`` can move them through shared memory. ``bytes`` and
``bytearray`` stay inside the pickle (pickle writes them itself, before any hook sees them).

>>> buffers = []
>>> payload = dumps([memoryview(bytearray(MIN_BUFFER)), memoryview(b"ab")], buffers)
>>> len(payload) < 200, len(buffers)
(True, 1)
>>> big, small = pickle.loads(payload, buffers=buffers)
>>> len(big), big.readonly, small.tobytes()
(65536, False, b'ab')
"""

from __future__ import annotations

import io
import marshal
import pickle
from types import CodeType, FunctionType
from typing import Any

import cloudpickle

from ..._errors import SerializationError

PROTOCOL = 5
#: Buffers smaller than this stay inside the pickle: moving one apart costs more.
MIN_BUFFER = 64 * 1024


def dumps(
    obj: Any, out_of_band: list[pickle.PickleBuffer] | None = None, *, main_by_value: bool = False
) -> bytes:
    """``obj`` pickled; with ``out_of_band``, buffers of ``MIN_BUFFER`` bytes or more are
    appended to it instead of copied into the pickle (load with ``buffers=out_of_band``).

    ``main_by_value``: the reader does not share this process's ``__main__``, so functions
    and classes defined there travel by value (cloudpickle keeps one class per definition
    on the reading side, and maps it back to the original here).
    """

    def keep_apart(buffer: pickle.PickleBuffer) -> bool:
        if out_of_band is None or buffer.raw().nbytes < MIN_BUFFER:
            return True  # in band
        out_of_band.append(buffer)
        return False

    def pickled(pickler: pickle.Pickler, file: io.BytesIO) -> bytes:
        if out_of_band is not None:
            out_of_band.clear()  # a failed attempt may have kept some
        pickler.dump(obj)
        return file.getvalue()

    file = io.BytesIO()
    try:
        plain = _Pickler(file, PROTOCOL, buffer_callback=keep_apart)
        plain.main_by_value = main_by_value
        return pickled(plain, file)
    except Exception:
        file = io.BytesIO()
        return pickled(_CloudPickler(file, PROTOCOL, buffer_callback=keep_apart), file)


def unpicklable(
    batch: list[Any], what: str, trip: str, error: Exception, *, main_by_value: bool = False
) -> SerializationError:
    """The error for a ``batch`` of elements that ``dumps`` could not pickle: it names the
    first element that cannot be pickled (``what`` at its index), and the ``trip``.

    >>> import threading
    >>> error = unpicklable([((0,), 1), ((1,), threading.Lock())], "the item", "go", TypeError())
    >>> str(error).split(": ")[0]
    'the item at index (1,) (lock) cannot be pickled to go'

    """
    for index, value in batch:
        try:
            dumps(value, main_by_value=main_by_value)
        except Exception as item_error:
            return SerializationError(
                f"{what} at index {index} ({type(value).__name__}) cannot be pickled to "
                f"{trip}: {type(item_error).__name__}: {item_error}"
            )
    return SerializationError(f"{what}: a batch cannot be pickled to {trip}: {error}")


def _buffer_reduction(obj: Any) -> Any:
    if type(obj) is not memoryview:
        return None
    if obj.nbytes == 0 and obj.format == "B" and obj.ndim == 1:
        return memoryview, (b"",)
    if obj.format.lstrip("@") not in _CASTABLE or obj.nbytes == 0:
        raise TypeError(
            f"a memoryview of format {obj.format!r} and shape {obj.shape} cannot be rebuilt "
            "on the other side (memoryview.cast takes native single-item formats and no "
            "empty dimension); send a numpy array or its bytes instead"
        )
    if obj.c_contiguous:  # the view is rebuilt in C order
        body: Any = pickle.PickleBuffer(obj)
    else:  # tobytes() copies in C order
        body = obj.tobytes() if obj.readonly else bytearray(obj.tobytes())
    return _rebuild_memoryview, (body, obj.format, obj.shape)


#: The formats ``memoryview.cast`` accepts: native single items.
_CASTABLE = set("bBhHiIlLqQnNfdP?c")


def _rebuild_memoryview(body: Any, fmt: Any, shape: tuple[int, ...]) -> memoryview:
    view: memoryview = memoryview(body).cast("B").cast(fmt, shape)
    return view


def _code_reduction(obj: Any) -> Any:
    """A code object with its file name: cloudpickle's own reduction drops it."""
    if type(obj) is not CodeType:
        return None
    try:
        return marshal.loads, (marshal.dumps(obj),)
    except ValueError:  # constants marshal cannot write (code built by hand): cloudpickle's way
        return None


class _ByValue(Exception):
    """Plain pickle would send a main-module function or class by name: use cloudpickle."""


class _Pickler(pickle.Pickler):
    main_by_value = False

    def reducer_override(self, obj: Any) -> Any:
        if (
            self.main_by_value
            and isinstance(obj, (type, FunctionType))
            and obj.__module__ == "__main__"
        ):
            raise _ByValue
        return _buffer_reduction(obj) or NotImplemented


class _CloudPickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle (which sends the main module's functions and classes by value), keeping
    code objects' file names and pickling memoryviews."""

    def reducer_override(self, obj: Any) -> Any:
        return _buffer_reduction(obj) or _code_reduction(obj) or super().reducer_override(obj)
