"""Arrays of ctypes values in memory that a run's worker processes share with their parent.

The memory is an anonymous file (``memfd_create``, or an unlinked temporary file where that
does not exist) mapped by every process of the run: a fork child inherits the mapping, and
a worker started by the fork server or by spawn receives the file's descriptor with its
spec (``start/fd_transfer.py``) and maps it again. The array's items read and write that memory
directly, so counters and flags cost what a plain ctypes array costs.

>>> from ctypes import c_int64
>>> flags = shared_array(c_int64, 4)
>>> flags[2] += 5
>>> list(flags)
[0, 0, 5, 0]
>>> flags.close()
"""

from __future__ import annotations

import ctypes
import mmap
import os
import tempfile
from functools import cache
from typing import Any

from ..start.fd_transfer import inherit


def shared_array(item: Any, length: int) -> Any:
    """``length`` zeroed values of the ctypes type ``item``, shared with worker processes.

    The creator owns the file's descriptor until ``close()`` (it is sent to each worker
    started later); the mapping lives as long as the array.
    """
    size = ctypes.sizeof(item) * max(1, length)
    fd = anonymous_file(size)
    return _map(fd, item, length, own_fd=True)


@cache
def _array_type(item: Any, length: int) -> Any:
    """The ctypes array type of ``length`` ``item``s that pickles as a shared mapping."""

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return (_rebuild, (inherit(self._fd), item, length))

    def close(self: Any) -> None:
        """Close the descriptor (the memory stays mapped while the array lives)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    base = item * max(1, length)
    return type(f"Shared{base.__name__}", (base,), {"__reduce__": __reduce__, "close": close})


def _map(fd: int, item: Any, length: int, own_fd: bool) -> Any:
    memory = mmap.mmap(fd, ctypes.sizeof(item) * max(1, length))
    array = _array_type(item, length).from_buffer(memory)  # keeps ``memory`` alive
    array._fd = fd if own_fd else -1
    return array


def _rebuild(fd: int, item: Any, length: int) -> Any:
    """In a worker: map the received file, then let its descriptor go."""
    try:
        return _map(fd, item, length, own_fd=False)
    finally:
        os.close(fd)


def anonymous_file(size: int) -> int:
    """A new file of ``size`` zero bytes that has no name, as a descriptor."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("pypeln-shared", os.MFD_CLOEXEC)
    else:  # macOS: a temporary file, unlinked at once
        fd, path = tempfile.mkstemp(prefix="pypeln-shared-")
        os.unlink(path)
    try:
        os.ftruncate(fd, size)  # reads as zeros
    except BaseException:
        os.close(fd)
        raise
    return fd
