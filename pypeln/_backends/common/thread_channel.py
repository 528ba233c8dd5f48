"""A bounded, batched, stop-aware channel between threads.

Every wait here wakes on data, on space, or on the run's stop signal, never on a timer: an
idle pipeline burns no CPU, and a worker blocked on a full queue still hears "stop".

``maxsize`` bounds what waits in front of the readers, wherever it waits::

    queued + reserved by producers + lent to readers <= maxsize

A producer reserves room (``reserve``) before it batches items, so its pending batch counts
against the bound; a producer may hold one item more, waiting for room. A reader's batch
counts too (see ``lent_part``): a reader hands its room back (``returned``) when it asks for
its next batch, so that producers get room in chunks, for batches again.

>>> from collections import deque
>>> stop = StopSignal()
>>> channel = ThreadChannel(maxsize=2, producers=1, readers=1, stop=stop)
>>> channel.put_from(deque([1]))  # room reserved beyond it: none asked
0
>>> channel.close()
>>> channel.get_batch(10), channel.get_batch(10)
([1], [])
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..._errors import Stopped
from ..contract import NOTHING_YET, ChannelReader, ChannelStatistics, ChannelWriter
from .batching import lent_part
from .stop_signal import StopSignal


class ThreadChannel(ChannelReader, ChannelWriter):
    """A FIFO of elements holding at most ``maxsize`` (0: unbounded), fed by ``producers``;
    both ends in one object, shared by every thread of the run.

    ``get_batch`` returns ``[]`` once every producer has called ``close()`` and the queue is
    empty; any wait raises ``Stopped`` as soon as the run stops.

    For subclasses (``LoopChannel`` adds waiters that are asyncio tasks), the state and the
    steps below are the override points; each step is called with ``_lock`` held:

    * state: ``_lock``, ``_items`` (the queue), ``_stop``, ``_getters`` (threads waiting
      for items), ``hungry``;
    * steps to call: ``_move_in``, ``_reserve``, ``_ready_to_take``, ``_take``,
      ``_give_back`` (the parts of a put and a get that never wait);
    * steps to extend: ``_wake_getters``, ``_wake_putters``, ``_wake_at_end`` (who is woken
      when items arrive, room frees, or the stream ends).
    """

    #: Readers waiting that no put has woken yet: a producer holding a batch should flush.
    hungry: int = 0

    def __init__(self, maxsize: int, producers: int, readers: int, stop: StopSignal) -> None:
        self.maxsize = maxsize
        self.producers = producers
        self._readers = readers
        self._open = producers
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._getters = 0  # threads waiting in get_batch: notify only when someone listens
        self._putters = 0
        self.hungry = 0
        self._shared: list[deque[Any]] = []  # producers' pending batches (see share)
        # With a bound: the room each producer reserved (by id of its pending batch), for
        # the items in that batch and those it may still add; their sum; and the room of
        # what readers took and did not hand back yet (see lent_part).
        self._reserved: dict[int, int] = {}
        self._reserved_total = 0
        self._lent = 0
        self.taken = 0  # items readers took so far: the run's progress (see stall.py)
        self._stop = stop
        stop.register(self._not_empty)
        stop.register(self._not_full)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def fill(self) -> int:
        """How much of the bound is taken: queued items, and the room producers reserved and
        readers hold (what the stall report shows)."""
        return len(self._items) + self._reserved_total + self._lent

    def statistics(self) -> ChannelStatistics:
        """Its fill and progress now (read without the lock: a snapshot, maybe off by one)."""
        return ChannelStatistics(self.maxsize, self.fill, self.taken, self._getters, self._putters)

    def put_from(self, pending: deque[Any], reserve: int = 0) -> int:
        """Move every item of ``pending`` here, in order, waiting for room as often as needed;
        then ``reserve`` room for items to come, as ``reserve()`` does."""
        with self._lock:
            while pending:
                if self._stop.is_set:
                    raise Stopped
                self._move_in(pending)
                if pending:
                    self._putters += 1
                    try:
                        self._not_full.wait()
                    finally:
                        self._putters -= 1
            return self._reserve(pending, reserve)

    def put_available(self, pending: deque[Any]) -> None:
        """Move what room there is now for of ``pending`` (its reserved room first), without
        waiting; readers waiting for items are woken."""
        with self._lock:
            if self._stop.is_set:
                raise Stopped
            self._move_in(pending)

    def reserve(self, pending: deque[Any], want: int) -> int:
        """Reserve room, as far as there is some now, for ``want`` items to join ``pending``
        beyond its items there; return how many may join (room kept from before counts).
        """
        if not self.maxsize:
            return want
        with self._lock:
            return self._reserve(pending, want)

    def release(self, pending: deque[Any]) -> None:
        """Give back the room reserved for ``pending`` that its items do not use."""
        if not self.maxsize:
            return
        with self._lock:
            key = id(pending)
            surplus = self._reserved.get(key, 0) - len(pending)
            if surplus > 0:
                self._reserved[key] -= surplus
                self._reserved_total -= surplus
                self._wake_putters(surplus)

    def share(self, pending: deque[Any]) -> None:
        """Let a reader that finds this channel empty take what a producer holds in ``pending``."""
        with self._lock:
            self._shared.append(pending)

    def unshare(self, pending: deque[Any]) -> None:
        with self._lock:  # by identity: two empty deques are equal
            self._shared = [shared for shared in self._shared if shared is not pending]
            held = self._reserved.pop(id(pending), 0)  # its producer is done: no room kept
            if held:
                self._reserved_total -= held
                self._wake_putters(held)

    def get_batch(
        self,
        limit: int,
        returned: int = 0,
        before_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """Up to ``limit`` items, and no more than a fair share when several workers read.

        ``returned``: the size of this reader's last batch, all done with now (the room
        of a batch of several is held until then). ``before_wait`` is called (without the
        lock) when the queue is empty, before the reader may wait. ``timeout``: see the
        contract (``NOTHING_YET``).
        """
        until = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if returned:
                self._give_back(returned)
            if not self._items and before_wait is not None:
                self._lock.release()
                try:
                    before_wait()
                finally:
                    self._lock.acquire()
            while not self._items:
                ready = self._ready_to_take()
                if ready is None:  # every producer closed: the end
                    return []
                if ready:
                    break
                left = None if until is None else until - time.monotonic()
                if left is not None and left <= 0:
                    return NOTHING_YET
                self._getters += 1
                try:
                    self._not_empty.wait(left)
                finally:
                    self._getters -= 1
            return self._take(limit)

    def give_back(self, returned: int) -> None:
        """A reader that leaves is done with its last batch, of ``returned`` items."""
        with self._lock:
            self._give_back(returned)

    def close(self) -> None:
        """One producer is done; the last one wakes every reader to see the end."""
        with self._lock:
            self._open -= 1
            if self._open == 0:
                self._wake_at_end()

    # -- steps of a put and a get that never wait: override points, called with the lock --

    def _reserve(self, pending: deque[Any], want: int) -> int:
        """``reserve``, called with the lock."""
        if not self.maxsize:
            return want
        key = id(pending)
        held = self._reserved.get(key, 0)
        needed = len(pending) + want
        if held < needed:
            grant = min(needed - held, max(0, self._room()))
            if grant:
                self._reserved[key] = held = held + grant
                self._reserved_total += grant
        return max(0, held - len(pending))

    def _room(self) -> int:
        """Room nobody holds (called with the lock, for a bounded channel)."""
        return self.maxsize - len(self._items) - self._reserved_total - self._lent

    def _move_in(self, pending: deque[Any]) -> None:
        """Move what room allows of ``pending`` here and wake readers (called with the lock):
        first the items ``pending``'s producer reserved room for, then as room allows."""
        items = self._items
        if not pending:
            return
        if not self.maxsize:
            moved = len(pending)
            items.extend(pending)  # safe: we hold the lock, and the producer is us
            pending.clear()
        else:
            moved = self._count_in(pending)
            if not moved:
                return
            if moved == len(pending):
                items.extend(pending)
                pending.clear()
            else:
                items.extend(pending.popleft() for _ in range(moved))
        self._wake_getters(moved)

    def _count_in(self, pending: deque[Any]) -> int:
        """How many of ``pending``'s items may come in now; their reserved room becomes
        theirs in the queue (called with the lock, for a bounded channel)."""
        key = id(pending)
        held = self._reserved.get(key, 0)
        count = min(len(pending), held + max(0, self._room()))
        used = min(count, held)
        if used:
            self._reserved[key] = held - used
            self._reserved_total -= used
        return count

    def _ready_to_take(self) -> bool | None:
        """With the queue empty: True if producers' held items came in, None at the end,
        False if the reader must wait (it is counted ``hungry``). Called with the lock."""
        if self._stop.is_set:
            raise Stopped
        if self._take_shared():
            return True
        if self._open == 0:
            return None
        self.hungry += 1
        # A producer that appended before it could see us hungry will not flush: look
        # again now that it can (every step here runs under the GIL, in order).
        if self._take_shared():
            self.hungry -= 1
            return True
        return False

    def _take(self, limit: int) -> list[Any]:
        """Up to ``limit`` of the queued items, a fair share of them (called with the lock)."""
        if self._stop.is_set:
            raise Stopped
        items = self._items
        count = min(limit, len(items), -(-len(items) // self._readers))
        if count == len(items):
            batch = list(items)
            items.clear()
        else:
            batch = [items.popleft() for _ in range(count)]
        if self.maxsize:
            lent = lent_part(self.maxsize, self._readers, count)
            self._lent += lent  # held until the reader asks again
            if lent < count:
                self._wake_putters(count - lent)
        self.taken += count
        return batch

    def _give_back(self, returned: int) -> None:
        """A reader is done with the ``returned`` items of its last batch: a batch of
        several frees its room now (called with the lock)."""
        if self.maxsize:
            lent = lent_part(self.maxsize, self._readers, returned)
            if lent:
                self._lent -= lent
                self._wake_putters(lent)

    def _take_shared(self) -> bool:
        """Move what producers hold into the queue, as room allows (called with the lock)."""
        took = False
        for pending in self._shared:
            if not pending:  # the usual case, with many producers: look no further
                continue
            count = self._count_in(pending) if self.maxsize else len(pending)
            if count > 0:
                # popleft of a counted snapshot: the producer may append meanwhile, never pop.
                self._items.extend(pending.popleft() for _ in range(count))
                took = True
        if took:
            self._wake_putters(self.producers)  # one waiting in put_from may have nothing left
        return bool(self._items)

    # -- who is woken: override points to extend, called with the lock ----------------------

    def _wake_getters(self, moved: int) -> None:
        """``moved`` items arrived: wake as many waiting readers (called with the lock)."""
        if self._getters:
            self._not_empty.notify(moved)
            self.hungry = max(0, self.hungry - moved)

    def _wake_putters(self, count: int) -> None:
        """``count`` items left: wake producers waiting for room (called with the lock)."""
        if self._putters:
            self._not_full.notify(count)

    def _wake_at_end(self) -> None:
        """The last producer closed: every reader must see the end (called with the lock)."""
        self._not_empty.notify_all()
        self.hungry = 0
