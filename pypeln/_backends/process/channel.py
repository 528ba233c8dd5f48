"""A bounded channel between processes: one pipe per producer, "room" as tokens in a pipe.

::

    producer 0 ──data pipe──┐                         ┌── reader 0   (with several readers,
    producer 1 ──data pipe──┼──► whoever holds the ───┤              one waits for data at a
    producer 2 ──data pipe──┘    read lock reads a    └── reader 1   time: the read lock)
          ▲                      whole frame
          └───── token pipe: one byte per item of room (maxsize); readers give back ─────┘

Each producer writes frames (a pickled batch) to its own pipe, so no write lock is needed
and a frame is never interleaved. ``maxsize`` counts items, not frames: a producer takes one
token per item before writing, a reader gives them back when it takes the frame. Readers
publish how many items they want per batch (``want``), so producers cut frames to fit and a
slow stage's workers share the work item by item.

Tokens also count what waits outside the pipes (see ``common/batching.py``): a producer
takes tokens for a batch before it makes it (``reserve``), and gives back those it did not
use. A reader gives back a frame's tokens when it asks for its next batch (``returned``), or
before it waits for anything; those of a single item at once if the bound is small (see
``lent_part``).

Latency: a producer flushes as soon as a reader is ``hungry``; a reader that has waited
``LINGER`` seconds pokes every producer, whose linger thread then hands on what its worker
holds while that worker is busy in user code (a batch never hides an item from an idle
reader for longer than that).
"""

from __future__ import annotations

import fcntl
import os
import sys
import termios
import threading
from collections import deque
from collections.abc import Callable, Sequence
from ctypes import c_int64
from dataclasses import dataclass, field
from functools import partial
from time import monotonic
from typing import Any

from ..._errors import Stopped
from ..common.batching import lent_part
from ..contract import NOTHING_YET, ChannelReader, ChannelStatistics, ChannelWriter
from .codec import Route, decode_batch, encode_batch
from .memory.arrays import shared_array
from .memory.buffers import PARENT, BufferArena, BufferViews, chunk_limit
from .pipes import (
    END,
    PipeMutex,
    Waiter,
    give_tokens,
    make_pipe,
    pipe_capacity,
    read_frame,
    take_tokens,
    try_read_head,
    try_take_tokens,
    write_frame,
)
from .start.fd_transfer import inherit

#: How long a reader waits for data before poking producers to hand on what they hold.
LINGER = 0.005
#: While data flows a reader never waits; it still looks at the stop pipe (and the parent
#: at its workers' sentinels and reports) this often.
CHECK_EVERY = 0.05
#: The unit in which a pipe holds bytes.
PAGE = 4096
#: Shared integers per channel before the producers' "ended" flags.
_HUNGRY, _WANT, _TAKEN, _ENDED = 0, 1, 2, 3
FLAGS = 4

SharedInts = Any  # a ctypes array of c_int64 in shared memory (see _shared_arrays)


@dataclass
class ChannelWiring:
    """The descriptors and shared flags of one channel (see the module docstring).

    A role's ``view`` keeps only the descriptors that role uses (-1 elsewhere), so a
    child process receives no more descriptors than it needs.
    """

    maxsize: int
    producers: int
    readers: int
    base: int  # where this channel's flags start in the run's shared integers
    buffers: str = ""  # the run's directory for large buffers ('' : off, see _shared_buffers)
    data: list[tuple[int, int]] = field(default_factory=list)  # per producer: (read, write)
    pokes: list[tuple[int, int]] = field(default_factory=list)
    tokens: tuple[int, int] = (-1, -1)
    read_lock: tuple[int, int] = (-1, -1)

    @classmethod
    def create(
        cls, maxsize: int, producers: int, readers: int, base: int, buffers: str = ""
    ) -> ChannelWiring:
        wiring = cls(maxsize, producers, readers, base, buffers)
        wiring.data = [make_pipe() for _ in range(producers)]
        wiring.pokes = [make_pipe() for _ in range(producers)]
        if maxsize:
            # Two pages spare: returned tokens append to a partly read page, or need a new
            # one; a pipe filled to its nominal capacity could refuse them (and hang).
            wiring.tokens = make_pipe(capacity=maxsize + 2 * PAGE)
            # Above what the OS lets a pipe hold, the bound is that many items.
            room = min(maxsize, pipe_capacity(wiring.tokens[0]) - 2 * PAGE)
            wiring.maxsize = room
            os.write(wiring.tokens[1], b"\0" * room)
        if readers > 1:
            wiring.read_lock = PipeMutex.create()
        return wiring

    @staticmethod
    def flags_needed(producers: int) -> int:
        return FLAGS + producers

    def fds(self) -> list[int]:
        pairs = [*self.data, *self.pokes, self.tokens, self.read_lock]
        return [fd for pair in pairs for fd in pair if fd >= 0]

    def view(self, writer: int | None) -> ChannelWiring:
        """What producer ``writer`` needs (``None``: what a reader needs)."""
        none = (-1, -1)
        if writer is None:
            data = [(read, -1) for read, _ in self.data]
            pokes = [(-1, write) for _, write in self.pokes]
            tokens = (-1, self.tokens[1])
        else:
            data = [(-1, write) if i == writer else none for i, (_, write) in enumerate(self.data)]
            pokes = [pair if i == writer else none for i, pair in enumerate(self.pokes)]
            tokens = self.tokens  # taken, and given back when a reservation is not used
        lock = self.read_lock if writer is None else none
        return ChannelWiring(
            self.maxsize,
            self.producers,
            self.readers,
            self.base,
            self.buffers,
            data,
            pokes,
            tokens,
            lock,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        def pairs(items: Sequence[tuple[int, int]]) -> list[tuple[Any, Any]]:
            return [(inherit(a), inherit(b)) for a, b in items]

        return (
            ChannelWiring,
            (
                self.maxsize,
                self.producers,
                self.readers,
                self.base,
                self.buffers,
                pairs(self.data),
                pairs(self.pokes),
                pairs([self.tokens])[0],
                pairs([self.read_lock])[0],
            ),
        )


class ReaderEnd(ChannelReader):
    """The reading side of a channel, for one reader (a worker, or the consumer)."""

    def __init__(
        self, wiring: ChannelWiring, flags: SharedInts, waiter: Waiter, holder: int = PARENT
    ) -> None:
        """``holder``: the id this reader's holds on shared-memory chunks carry."""
        self.maxsize = wiring.maxsize
        self._wiring = wiring
        self._flags = flags
        self._waiter = waiter
        self._lock = PipeMutex(wiring.read_lock) if wiring.readers > 1 else None
        self._next = 0
        self._next_check = monotonic() + CHECK_EVERY
        self._ended_seen = -1
        self._live_slots: list[int] = []
        self._views = BufferViews(wiring.buffers, holder) if wiring.buffers else None
        self._owed = 0  # tokens of items this reader is done with, not given back yet
        self._lent = partial(lent_part, wiring.maxsize, wiring.readers)

    def get_batch(
        self,
        limit: int,
        returned: int = 0,
        before_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """The next frame's items (``[]``: every producer ended). Raises ``Stopped``.

        ``returned``: the size of the reader's last batch, all done with now.
        ``before_wait`` is called before the reader may wait. ``timeout``: see the contract
        (``NOTHING_YET``; the wait for another reader's turn is not bounded by it).
        """
        until = None if timeout is None else monotonic() + timeout
        self._flags[self._wiring.base + _WANT] = limit
        if self._wiring.tokens[1] >= 0:
            self._owed += self._lent(returned)
        if self._lock is None:
            return self._read(before_wait, until)
        if not self._lock.try_acquire():  # another reader reads: waiting for the lock is waiting
            self._give_owed()
            if before_wait is not None:
                before_wait()
                before_wait = None
            self._lock.acquire(self._waiter)
        try:
            return self._read(before_wait, until)
        finally:
            self._lock.release()

    def give_back(self, returned: int) -> None:
        """A reader that leaves is done with its last batch, of ``returned`` items."""
        if self._wiring.tokens[1] >= 0:
            self._owed += self._lent(returned)
            self._give_owed()

    def _give_owed(self) -> None:
        if self._owed:
            give_tokens(self._wiring.tokens[1], self._owed, self._waiter)
            self._owed = 0

    def _read(self, before_wait: Callable[[], None] | None, until: float | None) -> list[Any]:
        waiter, data = self._waiter, self._wiring.data
        if monotonic() >= self._next_check:  # data that never stops must not hide a crash
            self._next_check = monotonic() + CHECK_EVERY
            waiter.check()
        while True:
            live = self._live()
            if not live:
                return []
            fds = [data[slot][0] for slot in live]
            fd, head = self._try_read(fds)
            if not head:
                if before_wait is not None:
                    before_wait()
                    before_wait = None
                    continue  # what came meanwhile is read first
                ready = self._wait_hungry(fds, live, until)
                if not ready:
                    return NOTHING_YET
                fd = ready[self._next % len(ready)]
                self._next += 1
            slot = live[fds.index(fd)]
            payload = read_frame(fd, waiter, head)
            if not payload:
                self._end(slot)
                continue
            batch = decode_batch(payload, self._views)
            if self._wiring.tokens[1] >= 0:  # what we owe, and what this batch does not hold
                given = self._owed + len(batch) - self._lent(len(batch))
                if given:
                    give_tokens(self._wiring.tokens[1], given, waiter)
                self._owed = 0
            # The run's progress, for the stall watch (under the read lock if readers share).
            self._flags[self._wiring.base + _TAKEN] += len(batch)
            return batch

    def _try_read(self, fds: list[int]) -> tuple[int, bytes]:
        """A producer with data now, and what was read of its frame (``b""``: none has)."""
        count = len(fds)
        for step in range(count):
            fd = fds[(self._next + step) % count]
            head = try_read_head(fd)
            if head:
                self._next += step + 1  # the next read starts with the next producer
                return fd, head
        return -1, b""

    def _wait_hungry(self, fds: list[int], live: list[int], until: float | None) -> list[int]:
        """The descriptors ready to read (none: ``until`` came first)."""
        flags, hungry = self._flags, self._wiring.base + _HUNGRY
        flags[hungry] = 1  # first: a producer woken by the room below sees that we wait
        try:
            self._give_owed()  # no room held while waiting: producers may need it
            first = LINGER if until is None else max(0.0, min(LINGER, until - monotonic()))
            ready = self._waiter.wait(fds, timeout=first)
            if not ready:
                self._poke(live)
                left = None if until is None else max(0.0, until - monotonic())
                ready = self._waiter.wait(fds, timeout=left)
        finally:
            flags[hungry] = 0
        return ready

    def _live(self) -> list[int]:
        """The producers (slots) not yet ended (kept in shared memory: a worker that replaces
        another reader must not wait for an end its predecessor already read)."""
        flags, wiring = self._flags, self._wiring
        ended = int(flags[wiring.base + _ENDED])
        if ended != self._ended_seen:  # one shared read per batch while nothing ended
            base = wiring.base + FLAGS
            self._live_slots = [slot for slot in range(wiring.producers) if not flags[base + slot]]
            self._ended_seen = ended
        return self._live_slots

    def _end(self, slot: int) -> None:
        base = self._wiring.base
        self._flags[base + FLAGS + slot] = 1
        self._flags[base + _ENDED] += 1  # under the read lock when readers share the channel

    def _poke(self, live: list[int]) -> None:
        for slot in live:
            try:
                os.write(self._wiring.pokes[slot][1], b"\0")
            except BlockingIOError:  # already full of pokes: that producer will look
                pass

    def close(self) -> None:
        """Readers close nothing (the Channel protocol asks for it)."""


class WriterEnd(ChannelWriter):
    """Producer ``slot``'s side of a channel (see the module docstring)."""

    def __init__(
        self,
        wiring: ChannelWiring,
        slot: int,
        flags: SharedInts,
        waiter: Waiter,
        route: Route,
        pass_on: bool = True,
    ) -> None:
        """``route``: where the batches go (for errors, and how they are pickled).
        ``pass_on=False``: large buffers are always copied (a producer whose items also
        go elsewhere must not share them with one reader; see ``memory/buffers.py``)."""
        self.maxsize = wiring.maxsize
        self._route = route
        self.producers = wiring.producers
        self._fd = wiring.data[slot][1]
        self._poke_fds = wiring.pokes[slot]
        self._tokens, self._tokens_back = wiring.tokens
        self._reserved = 0  # tokens taken for pending items and those to come (the lock)
        self._flags = flags
        self._hungry = wiring.base + _HUNGRY
        self._want = wiring.base + _WANT
        self._waiter = waiter
        self._lock = threading.Lock()  # the worker and its linger thread both send
        self._linger: _Linger | None = None
        self.error: Exception | None = None  # what the linger thread failed with
        self._arena = (
            BufferArena(wiring.buffers, chunk_limit(wiring.maxsize), waiter, pass_on)
            if wiring.buffers
            else None
        )

    @property
    def hungry(self) -> int:
        """Whether a reader waits for data now."""
        return int(self._flags[self._hungry])

    def put_from(self, pending: deque[Any], reserve: int = 0) -> int:
        if self.error is not None:
            raise self.error
        with self._lock:
            self._send(pending, concurrent=False, keep=reserve)
            return self._reserve(pending, reserve)

    def reserve(self, pending: deque[Any], want: int) -> int:
        """Take the tokens there are, up to ``want`` for items to join ``pending`` (tokens
        kept from before count); how many may join."""
        if self._tokens < 0:
            return want
        with self._lock:
            return self._reserve(pending, want)

    def release(self, pending: deque[Any]) -> None:
        """Give back the tokens that ``pending``'s items do not use."""
        if self._tokens < 0:
            return
        with self._lock:
            surplus = self._reserved - len(pending)
            if surplus > 0:
                give_tokens(self._tokens_back, surplus, self._waiter)
                self._reserved -= surplus

    def _reserve(self, pending: deque[Any], want: int) -> int:
        if self._tokens < 0:
            return want
        needed = len(pending) + want
        if self._reserved < needed:
            self._reserved += try_take_tokens(self._tokens, needed - self._reserved)
        return max(0, self._reserved - len(pending))

    def close(self) -> None:
        """This producer is done: readers see its end after everything it sent."""
        if self.error is not None:
            raise self.error
        with self._lock:
            if self._reserved:  # tokens kept for batches to come: none will
                give_tokens(self._tokens_back, self._reserved, self._waiter)
                self._reserved = 0
            write_frame(self._fd, END, self._waiter)
            if self._arena is not None:
                self._arena.close()

    def share(self, pending: deque[Any]) -> None:
        """Let a poke from a waiting reader hand on ``pending`` while the worker is busy."""
        self._linger = _Linger(self, pending)

    def unshare(self, pending: deque[Any]) -> None:
        if self._linger is not None:
            self._linger.stop()
            self._linger = None
        self.release(pending)  # a worker leaving (replaced after a timeout) keeps no room

    def flush_concurrently(self, pending: deque[Any]) -> None:
        """Hand on ``pending`` from another thread than the one appending to it."""
        with self._lock:
            self._send(pending, concurrent=True)

    def _send(self, pending: deque[Any], concurrent: bool, keep: int = 0) -> None:
        """Send ``pending``, waiting for room for what has none reserved.

        With ``keep`` (room wanted for a next batch) and no reader waiting, the item that
        had to wait for room stays here once it has it, to go with that batch (sent alone,
        it would make a frame of one item).
        """
        flags, waiter = self._flags, self._waiter
        while pending:
            count = min(len(pending), max(1, int(flags[self._want])))
            if self._tokens < 0:
                pass
            elif self._reserved:  # items made with room reserved for them go first
                count = min(count, self._reserved)
                self._reserved -= count
            elif keep and not flags[self._hungry]:  # the item made without: wait for room
                # for it and the next batch, and keep it for that batch (nothing else is
                # held while waiting: what had room reserved went above)
                self._reserved = take_tokens(self._tokens, len(pending) + keep, waiter)
                if self._reserved >= len(pending):
                    return
                continue
            else:  # the item made without: wait for room
                count = take_tokens(self._tokens, count, waiter)
            if count == len(pending) and not concurrent:
                batch = list(pending)
                pending.clear()
            else:  # popleft of a counted snapshot: the worker may append meanwhile, never pop
                batch = [pending.popleft() for _ in range(count)]
            for frame in encode_batch(batch, self._route, self._arena):
                write_frame(self._fd, frame, waiter)
            flags[self._hungry] = 0  # the waiting reader has something now


class _Linger:
    """A thread that hands on a worker's pending batch when a waiting reader pokes."""

    def __init__(self, writer: WriterEnd, pending: deque[Any]) -> None:
        self._writer = writer
        self._pending = pending
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="pypeln linger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._closing = True
        try:
            os.write(self._writer._poke_fds[1], b"\1")
        except BlockingIOError:  # full of pokes already: the thread is about to wake
            pass
        self._thread.join()

    def _serve(self) -> None:
        read_fd = self._writer._poke_fds[0]
        waiter = self._writer._waiter
        try:
            while not self._closing:
                waiter.wait([read_fd])
                try:
                    os.read(read_fd, 4096)
                except BlockingIOError:
                    continue
                if self._pending and not self._closing:
                    self._writer.flush_concurrently(self._pending)
        except Stopped:
            pass  # the run stops
        except Exception as error:  # e.g. an item that cannot be pickled: the worker raises it
            self._writer.error = error


def flags_array(size: int) -> SharedInts:
    """``size`` shared integers, zeroed, that the run's worker processes see."""
    return shared_array(c_int64, size)


class QueueFill:
    """A channel's fill as the stall watch reads it: ``len()`` is what waits in it (the
    room its producers took and readers did not give back), ``maxsize`` its bound."""

    def __init__(self, wiring: ChannelWiring, flags: SharedInts) -> None:
        self.maxsize = wiring.maxsize
        self._tokens = wiring.tokens[0]
        self.taken_slot = wiring.base + _TAKEN
        self._flags = flags

    @property
    def taken(self) -> int:
        return int(self._flags[self.taken_slot])

    def statistics(self) -> ChannelStatistics:
        """Its fill and progress (who waits is not counted across processes)."""
        return ChannelStatistics(self.maxsize, len(self), self.taken, 0, 0)

    def __len__(self) -> int:
        if self._tokens < 0:
            return 0  # unbounded: nothing counts what waits
        free = bytearray(4)
        fcntl.ioctl(self._tokens, termios.FIONREAD, free)
        return max(0, self.maxsize - int.from_bytes(free, sys.byteorder))
