"""Non-blocking OS pipes whose every wait also wakes on the run's stop pipe.

Process workers and their parent talk only through pipes: data frames, "room" tokens,
mutexes, pokes. Every descriptor is non-blocking and every wait is one ``poll()`` on the
descriptor *and* the run's stop pipe (and, in the parent, the workers' sentinels and
reports), so no wait outlives the run, and a peer that dies mid-frame cannot hang a reader:
the reader keeps waiting on "stop", which the parent sets when it sees the death.

A frame is an 8-byte little-endian length and that many bytes; length 0 means "end".

>>> stop_r, stop_w = make_pipe()
>>> r, w = make_pipe()
>>> waiter = Waiter(stop_r)
>>> write_frame(w, b"hello", waiter)
>>> bytes(read_frame(r, waiter))
b'hello'
>>> for fd in (stop_r, stop_w, r, w):
...     os.close(fd)
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import threading
from collections.abc import Callable, Sequence

from ..._errors import Stopped

_HEADER = struct.Struct("<Q")
_IN = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR
_OUT = select.POLLOUT | select.POLLHUP | select.POLLERR
#: A pipe's default capacity on Linux; token pipes that must hold more are enlarged.
DEFAULT_PIPE_CAPACITY = 65536
END = b""


def make_pipe(capacity: int = 0) -> tuple[int, int]:
    """A non-blocking, close-on-exec pipe holding at least ``capacity`` bytes if it can."""
    if hasattr(os, "pipe2"):
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    else:  # macOS: the same in three calls (os.pipe's ends are already close-on-exec)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
    if capacity > DEFAULT_PIPE_CAPACITY and hasattr(fcntl, "F_SETPIPE_SZ"):
        try:
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, capacity)
        except OSError:  # above /proc/sys/fs/pipe-max-size: keep what we have
            pass
    return read_fd, write_fd


def pipe_capacity(fd: int) -> int:
    """How many bytes the pipe ``fd`` holds."""
    if hasattr(fcntl, "F_GETPIPE_SZ"):
        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
    return DEFAULT_PIPE_CAPACITY


class Waiter:
    """Waits for descriptors to be ready, and wakes on the stop pipe (raising ``Stopped``).

    With ``stop_fd=None`` it waits for the descriptors only (for a wait that must finish
    even while the run stops, such as counting a worker as finished).

    ``watch`` adds descriptors (the parent's worker sentinels and reports) whose readiness
    is handed to ``on_watch``, which may raise to end the wait.
    """

    def __init__(
        self,
        stop_fd: int | None,
        watch: Callable[[], Sequence[int]] | None = None,
        on_watch: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.stop_fd = stop_fd
        self._watch = watch
        self._on_watch = on_watch
        # The last poll object, with the thread and descriptors it is for: a consumer waits
        # on the same descriptors again and again, and registering them anew would cost
        # more than the wait itself. One (key, poller) pair, read and replaced whole: a
        # worker's threads share a waiter, and one poll object must never serve two
        # threads at once ("concurrent poll() invocation").
        self._cached: tuple[tuple[object, ...], select.poll] = ((), select.poll())

    def wait(
        self, fds: Sequence[int], events: int = _IN, timeout: float | None = None
    ) -> list[int]:
        """Block until one of ``fds`` is ready for ``events``; return the ready ones.

        With ``timeout`` (seconds), return ``[]`` if none is ready by then.
        """
        wait_ms = None if timeout is None else max(0, int(timeout * 1000))
        while True:
            watched = self._watch() if self._watch is not None else ()
            ready = {fd for fd, _ in self._poller_for(fds, events, watched).poll(wait_ms)}
            if self.stop_fd in ready:
                raise Stopped
            if self._on_watch is not None and ready.intersection(watched):
                self._on_watch([fd for fd in watched if fd in ready])
            mine = [fd for fd in fds if fd in ready]
            if mine or (wait_ms is not None and not ready):
                return mine

    def _poller_for(self, fds: Sequence[int], events: int, watched: Sequence[int]) -> select.poll:
        key = (threading.get_ident(), tuple(fds), events, tuple(watched))
        cached_key, poller = self._cached
        if key != cached_key:
            poller = select.poll()
            for fd in fds:
                poller.register(fd, events)
            if self.stop_fd is not None:
                poller.register(self.stop_fd, _IN)
            for fd in watched:
                poller.register(fd, _IN)
            self._cached = (key, poller)
        return poller

    def check(self) -> None:
        """Handle the stop pipe and the watched descriptors if any is ready, without waiting."""
        self.wait([], timeout=0)

    def forget_watch(self) -> None:
        """Drop the watch callbacks (which may refer back to the waiter's owner)."""
        self._watch = self._on_watch = None

    def wait_for_stop(self) -> None:
        """Wait until the run stops (a peer is gone; the parent will notice and stop us)."""
        self.wait([])


def write_all(fd: int, data: bytes | bytearray | memoryview, waiter: Waiter) -> None:
    """Write every byte of ``data``, waiting for room (or stop) as often as needed."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            waiter.wait([fd], _OUT)
            continue
        view = view[written:]


def write_frame(fd: int, payload: bytes | bytearray | memoryview, waiter: Waiter) -> None:
    """One frame: the length, then the payload (``END``: an empty payload, meaning "end")."""
    header = _HEADER.pack(len(payload))
    if len(payload) < 65536:  # one write: a short frame lands whole or not at all
        write_all(fd, b"".join((header, payload)), waiter)
    else:  # no copy of a large payload
        write_all(fd, header, waiter)
        write_all(fd, payload, waiter)


def read_exact(fd: int, size: int, waiter: Waiter) -> bytearray:
    """Exactly ``size`` bytes from ``fd``, waiting for data (or stop) as often as needed."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        try:
            count = os.readv(fd, [view[got:]])
        except BlockingIOError:
            waiter.wait([fd])
            continue
        if count == 0:  # every writer closed: only the stop signal can end this wait
            waiter.wait_for_stop()
        got += count
    return buffer


def read_frame(fd: int, waiter: Waiter, head: bytes = b"") -> bytearray:
    """The payload of the next frame on ``fd`` (empty: the writer ended).

    ``head``: the first bytes of the frame, already read by ``try_read_head``.
    """
    missing = _HEADER.size - len(head)
    header = head + read_exact(fd, missing, waiter) if missing else head
    (size,) = _HEADER.unpack(header)
    return read_exact(fd, size, waiter) if size else bytearray()


def split_frames(buffer: bytearray) -> list[bytearray]:
    """Remove every complete frame from the front of ``buffer``; return their payloads.

    For a reader that gathers bytes without waiting (the parent reading worker reports).

    >>> buffer = bytearray(_HEADER.pack(2) + b"ok" + _HEADER.pack(5) + b"ha")
    >>> split_frames(buffer), len(buffer)
    ([bytearray(b'ok')], 10)
    """
    payloads = []
    while len(buffer) >= _HEADER.size:
        (size,) = _HEADER.unpack_from(buffer)
        end = _HEADER.size + size
        if len(buffer) < end:
            break
        payloads.append(buffer[_HEADER.size : end])
        del buffer[:end]
    return payloads


def try_read_head(fd: int) -> bytes:
    """The first bytes of the next frame on ``fd`` if some are there now, else ``b""``.

    One read instead of a poll and a read: the common case when data flows.
    """
    try:
        return os.read(fd, _HEADER.size)
    except BlockingIOError:
        return b""


def take_tokens(fd: int, most: int, waiter: Waiter) -> int:
    """Take between 1 and ``most`` tokens (bytes) from the token pipe ``fd``."""
    while True:
        try:
            return len(os.read(fd, most))
        except BlockingIOError:
            waiter.wait([fd])


def try_take_tokens(fd: int, most: int) -> int:
    """Take up to ``most`` tokens from the token pipe ``fd`` without waiting (0 if none)."""
    if most <= 0:
        return 0
    try:
        return len(os.read(fd, most))
    except BlockingIOError:
        return 0


def give_tokens(fd: int, count: int, waiter: Waiter) -> None:
    """Return ``count`` tokens to the token pipe ``fd``."""
    if count > 0:
        write_all(fd, b"\0" * count, waiter)


class PipeMutex:
    """A lock across processes: one token in a pipe. Waiting for it also wakes on stop.

    A holder that dies takes the token with it; its peers then wait for the stop that the
    parent sets when it sees the death.
    """

    def __init__(self, fds: tuple[int, int]) -> None:
        self.read_fd, self.write_fd = fds

    @staticmethod
    def create() -> tuple[int, int]:
        fds = make_pipe()
        os.write(fds[1], b"\0")
        return fds

    def acquire(self, waiter: Waiter) -> None:
        take_tokens(self.read_fd, 1, waiter)

    def try_acquire(self) -> bool:
        """Take the lock if it is free now; never waits."""
        return try_take_tokens(self.read_fd, 1) == 1

    def release(self) -> None:
        os.write(self.write_fd, b"\0")  # one byte into an empty pipe never blocks


def close_fds(fds: Sequence[int]) -> None:
    """Close every descriptor of ``fds`` that is still open."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
