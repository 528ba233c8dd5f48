"""How a batch crosses Ray: pickled by pypeln, its large buffers beside it.

A batch is pickled as one ``bytes`` (Ray alone would encode a list item by item, and most
of a trivial pipeline's time would go there), with pypeln's own pickling
(``remote/pickling.py``): the script's functions and classes travel by value and come back
as the classes the script knows, ``memoryview`` and ``bytearray`` stay what they are. A
batch of scalars takes plain ``pickle``, the fast way.

Large buffers (a numpy array's data, a large ``memoryview``) are not copied into the
pickle: they travel beside it as arrays of bytes, which Ray moves through its object store
without pickling them, and which a reader maps read-only from there. The reader rebuilds
its values on copies of them, which it may change, as on every other backend.

>>> unpack(pack([((0,), 1)]))
[((0,), 1)]
>>> import numpy as np
>>> payload, buffers = packed = pack([((0,), np.zeros(1 << 14))])
>>> len(payload) < 1000, [buffer.nbytes for buffer in buffers]
(True, [131072])
>>> [(index, float(array.sum()), array.flags.writeable) for index, array in unpack(packed)]
[((0,), 0.0, True)]
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from ..._worker.kernels import Element
from ..remote.pickling import dumps, unpicklable

#: A batch as it crosses Ray: its pickle, and the large buffers kept out of it.
Packed = tuple[bytes, list[Any]]

#: Value types plain ``pickle`` writes and reads back the same anywhere: a batch of only
#: these needs no look for classes of the script or buffers (one look at each type).
SCALARS = frozenset({int, float, str, bool, bytes, type(None)})


def pack(elements: list[Element], what: str = "an item") -> Packed:
    """``elements`` as they cross Ray (see the module docstring); one that cannot be
    pickled raises ``SerializationError``, naming it as ``what`` with its index."""
    if {type(value) for _, value in elements} <= SCALARS:
        return pickle.dumps(elements, pickle.HIGHEST_PROTOCOL), []
    buffers: list[pickle.PickleBuffer] = []
    try:
        payload = dumps(elements, buffers, main_by_value=True)
    except Exception as error:
        raise unpicklable(elements, what, "cross Ray", error, main_by_value=True) from error
    return payload, [np.frombuffer(buffer.raw(), dtype=np.uint8) for buffer in buffers]


def unpack(packed: Packed) -> list[Element]:
    """The elements ``pack`` packed, rebuilt on writable copies of their buffers."""
    payload, buffers = packed
    elements: list[Element] = pickle.loads(payload, buffers=[bytearray(b) for b in buffers])
    return elements
