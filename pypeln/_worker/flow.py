"""How a worker meters its flow, once per batch of input (never per item): the time it waits
for input, what it takes, and how long its batch took per item (the duration of one call,
noted for the percentiles). The time it spends handing on is metered where it hands on
(``OutputBatches``); what is left of its life is time working (``_insight/stats.py``).

>>> from pypeln._worker.counters import WorkerCounters
>>> counters = WorkerCounters()
>>> mark = meter_wait(counters, clock(), 4)
>>> meter_batch(counters, mark, 4)
>>> counters.received, counters.sampled, counters.waiting_ns >= 0
(4, 1, True)
"""

from __future__ import annotations

from time import perf_counter_ns as clock

from .counters import Counters, note_call

__all__ = ["Mark", "clock", "meter_batch", "meter_end", "meter_start", "meter_wait"]

#: When a batch's work began, and the worker's time handing on by then.
Mark = tuple[int, int]


def meter_start(counters: Counters) -> None:
    """The worker starts (its ``on_start`` is work too)."""
    counters.started_ns = clock()


def meter_end(counters: Counters) -> None:
    """The worker ended (its ``on_done`` ran)."""
    counters.ended_ns = clock()


def meter_wait(counters: Counters, began: int, count: int) -> Mark:
    """The worker waited for input since ``began`` and took ``count`` items."""
    now = clock()
    counters.waiting_ns += now - began
    counters.received += count
    return now, counters.blocked_ns


def meter_batch(counters: Counters, mark: Mark, count: int) -> None:
    """The batch of ``count`` items begun at ``mark`` is done: its time per item, without
    the time spent handing on, is one duration of a call."""
    if count:
        began, blocked = mark
        spent = clock() - began - (counters.blocked_ns - blocked)
        note_call(counters, max(0, spent) // count)
