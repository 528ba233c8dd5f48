"""A bounded, batched, stop-aware channel between threads.

Every wait here wakes on data, on space, or on the run's stop signal, never on a timer: an
idle pipeline burns no CPU, and a worker blocked on a full queue still hears "stop".

>>> stop = StopSignal()
>>> channel = ThreadChannel(maxsize=2, producers=1, readers=1, stop=stop)
>>> channel.put_many([1])
>>> channel.close()
>>> channel.get_batch(10), channel.get_batch(10)
([1], [])
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .._errors import Stopped


class StopSignal:
    """The run's "stop now": setting it wakes every wait registered with it."""

    def __init__(self) -> None:
        self.is_set = False
        self._lock = threading.Lock()
        self._conditions: set[threading.Condition] = set()

    def register(self, condition: threading.Condition) -> None:
        """Wake ``condition``'s waiters when the signal is set."""
        with self._lock:
            self._conditions.add(condition)

    def unregister(self, condition: threading.Condition) -> None:
        with self._lock:
            self._conditions.discard(condition)

    def set(self) -> None:
        """Stop: waiters see ``is_set`` because it is set before any of them is notified."""
        with self._lock:
            if self.is_set:
                return
            self.is_set = True
            conditions = list(self._conditions)
        for condition in conditions:
            with condition:
                condition.notify_all()


class ThreadChannel:
    """A FIFO of elements holding at most ``maxsize`` (0: unbounded), fed by ``producers``.

    ``get_batch`` returns ``[]`` once every producer has called ``close()`` and the queue is
    empty; any wait raises ``Stopped`` as soon as the run stops.
    """

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
        #: Readers waiting that no put has woken yet: a producer holding a batch should flush.
        self.hungry = 0
        self._shared: list[deque[Any]] = []  # producers' pending batches (see share)
        self.taken = 0  # items readers took so far: the run's progress (see _stall.py)
        self._stop = stop
        stop.register(self._not_empty)
        stop.register(self._not_full)

    def __len__(self) -> int:
        return len(self._items)

    def put_many(self, items: list[Any]) -> None:
        """Append all of ``items``, waiting for room as often as needed."""
        self.put_from(deque(items))

    def put_from(self, pending: deque[Any]) -> None:
        """Move every item of ``pending`` here, in order, waiting for room as often as needed."""
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

    def _move_in(self, pending: deque[Any]) -> None:
        """Move what room allows of ``pending`` here and wake readers (called with the lock)."""
        items = self._items
        room = len(pending) if not self.maxsize else self.maxsize - len(items)
        if room >= len(pending):
            moved = len(pending)
            items.extend(pending)  # safe: we hold the lock, and the producer is us
            pending.clear()
        elif room > 0:
            moved = room
            items.extend(pending.popleft() for _ in range(room))
        else:
            return
        self._wake_getters(moved)

    def _wake_getters(self, moved: int) -> None:
        """``moved`` items arrived: wake as many waiting readers (called with the lock)."""
        if self._getters:
            self._not_empty.notify(moved)
            self.hungry = max(0, self.hungry - moved)

    def _wake_putters(self, count: int) -> None:
        """``count`` items left: wake producers waiting for room (called with the lock)."""
        if self._putters:
            self._not_full.notify(count)

    def share(self, pending: deque[Any]) -> None:
        """Let a reader that finds this channel empty take what a producer holds in ``pending``."""
        with self._lock:
            self._shared.append(pending)

    def unshare(self, pending: deque[Any]) -> None:
        with self._lock:  # by identity: two empty deques are equal
            self._shared = [shared for shared in self._shared if shared is not pending]

    def get_batch(self, limit: int) -> list[Any]:
        """Up to ``limit`` items, and no more than a fair share when several workers read."""
        with self._lock:
            while not self._items:
                ready = self._ready_to_take()
                if ready is None:  # every producer closed: the end
                    return []
                if ready:
                    break
                self._getters += 1
                try:
                    self._not_empty.wait()
                finally:
                    self._getters -= 1
            return self._take(limit)

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
        self._wake_putters(count)
        self.taken += count
        return batch

    def _take_shared(self) -> bool:
        """Move what producers hold into the queue, as room allows (called with the lock)."""
        took = False
        for pending in self._shared:
            if not pending:  # the usual case, with many producers: look no further
                continue
            room = len(pending) if not self.maxsize else self.maxsize - len(self._items)
            count = min(room, len(pending))
            if count > 0:
                # popleft of a counted snapshot: the producer may append meanwhile, never pop.
                self._items.extend(pending.popleft() for _ in range(count))
                took = True
        if took:
            self._wake_putters(self.producers)  # one waiting in put_from may have nothing left
        return bool(self._items)

    def close(self) -> None:
        """One producer is done; the last one wakes every reader to see the end."""
        with self._lock:
            self._open -= 1
            if self._open == 0:
                self._wake_at_end()

    def _wake_at_end(self) -> None:
        """The last producer closed: every reader must see the end (called with the lock)."""
        self._not_empty.notify_all()
        self.hungry = 0
