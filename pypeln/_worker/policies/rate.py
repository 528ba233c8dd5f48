"""``rate=``: at most that many calls per second for a whole stage, whatever its workers.

Every worker of the stage takes a turn from one shared limiter before each call (each
attempt of a retried call too). The limiter is a token bucket written as a schedule (the
generic cell rate algorithm): it keeps one number, the time at which the bucket is next
empty, so that worker processes can share it as one integer in shared memory and Ray actors
through one small actor. A worker asks for a turn and is told how long to wait for it; it
waits with its run's pause, which ends when the run stops. Up to ``burst`` calls (the
stage's workers) may start at once after a quiet spell; over time the calls never exceed
``rate`` per second.

>>> schedule = Schedule(rate=10, burst=2)
>>> [schedule.wait_at(now=0.0) for _ in range(4)]  # two at once, then one per 0.1 s
[0.0, 0.0, 0.1, 0.2]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..async_kernels import is_awaitable

NANOSECONDS = 1_000_000_000


class Limiter(Protocol):
    """One stage's shared turns: ``wait()`` takes the next and says how many seconds away
    it is (0 if now)."""

    def wait(self) -> float: ...


def next_turn(empty_at: int, now: int, interval: int, burst: int) -> tuple[int, int]:
    """The bucket's schedule advanced by one call made at ``now`` or later: ``(empty_at``
    after it``, nanoseconds to wait for it)``. All times in integer nanoseconds, so that
    one shared integer holds the whole state."""
    start = max(empty_at, now)
    wait = max(0, start - (burst - 1) * interval - now)
    return start + interval, wait


class Schedule:
    """The schedule of one stage, kept in this process; safe across threads.

    ``clock`` gives the time in seconds (``time.monotonic`` by default).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._interval = round(NANOSECONDS / rate)
        self._burst = max(1, burst)
        self._clock = clock
        self._empty_at = 0
        self._lock = threading.Lock()

    def wait(self) -> float:
        return self.wait_at(self._clock())

    def wait_at(self, now: float) -> float:
        """``wait()`` as if the time were ``now`` (seconds)."""
        with self._lock:
            self._empty_at, wait = next_turn(
                self._empty_at, round(now * NANOSECONDS), self._interval, self._burst
            )
        return wait / NANOSECONDS


def limited(fn: Callable[..., Any], limiter: Limiter, pause: Callable[[float], Any]) -> Any:
    """``fn`` that first waits for its turn (with ``pause``, which the run's stop ends)."""

    def call_in_turn(*args: Any, **kwargs: Any) -> Any:
        wait = limiter.wait()
        if wait > 0:
            pause(wait)
        return fn(*args, **kwargs)

    return call_in_turn


def alimited(fn: Callable[..., Any], limiter: Limiter, pause: Callable[[float], Any]) -> Any:
    """``limited`` for a task worker: the pause and ``fn``'s result are awaited."""

    async def call_in_turn(*args: Any, **kwargs: Any) -> Any:
        wait = limiter.wait()
        if wait > 0:
            paused = pause(wait)
            if is_awaitable(paused):
                await paused
        result = fn(*args, **kwargs)
        return (await result) if is_awaitable(result) else result

    return call_in_turn
