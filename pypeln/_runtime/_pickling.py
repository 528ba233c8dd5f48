"""Pickling for the trip between processes: protocol 5, with large buffers kept apart.

``pickle`` first, ``cloudpickle`` for what it cannot do (lambdas, closures, local classes).
Both also pickle ``memoryview`` (which plain pickle refuses), handing a large one's contents
to pickle's out-of-band buffers like a numpy array's, so that ``_shared_buffers`` can move
them through shared memory. ``bytes`` and ``bytearray`` stay inside the pickle (pickle
writes them itself, before any hook sees them).

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
import pickle
from typing import Any

import cloudpickle

PROTOCOL = 5
#: Buffers smaller than this stay inside the pickle: moving one apart costs more.
MIN_BUFFER = 64 * 1024


def dumps(obj: Any, out_of_band: list[pickle.PickleBuffer] | None = None) -> bytes:
    """``obj`` pickled; with ``out_of_band``, buffers of ``MIN_BUFFER`` bytes or more are
    appended to it instead of copied into the pickle (load with ``buffers=out_of_band``)."""

    def keep_apart(buffer: pickle.PickleBuffer) -> bool:
        if out_of_band is None or buffer.raw().nbytes < MIN_BUFFER:
            return True  # in band
        out_of_band.append(buffer)
        return False

    for pickler in (_Pickler, _CloudPickler):
        if out_of_band is not None:
            out_of_band.clear()  # a failed attempt may have kept some
        file = io.BytesIO()
        try:
            pickler(file, PROTOCOL, buffer_callback=keep_apart).dump(obj)
        except Exception:
            if pickler is _CloudPickler:
                raise
            continue
        return file.getvalue()
    raise AssertionError("unreachable")


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


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        return _buffer_reduction(obj) or NotImplemented


class _CloudPickler(cloudpickle.Pickler):  # type: ignore[misc]
    def reducer_override(self, obj: Any) -> Any:
        return _buffer_reduction(obj) or super().reducer_override(obj)
