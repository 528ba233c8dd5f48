"""Stall insight: when nothing has moved for a while, say where every worker is.

Off by default. With ``PYPELN_STALL_AFTER=30`` (seconds) in the environment, a run of the
``thread``, ``task`` or ``process`` backend that moves no element through any of its queues
for 30 s emits a ``StallWarning`` listing each stage's input queue fill and what each of its
workers is doing: the innermost lines of its stack and the index of the element it holds (a
worker process dumps all its threads' stacks instead, see ``ProcessRun.stall_report``). A user
stuck on a slow or deadlocked function sees where. One warning per stall; the watch wakes
once per period (no polling) and ends with the run.

>>> describe_frames([])
'(no frame)'
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from types import FrameType
from typing import TYPE_CHECKING

from ..._worker.kernels import Index
from ..._worker.threads import wait_started
from ..contract import ChannelStatistics

if TYPE_CHECKING:
    from ..._pipeline.plan import Node

#: How many of a worker's innermost stack lines the warning shows.
STACK_LINES = 4


class StallWarning(RuntimeWarning):
    """Nothing moved in a pipeline for ``$PYPELN_STALL_AFTER`` seconds (see the message)."""


def stall_after() -> float:
    """``$PYPELN_STALL_AFTER`` in seconds; 0 when unset (the watch is off)."""
    value = os.environ.get("PYPELN_STALL_AFTER", "")
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(
            f"$PYPELN_STALL_AFTER must be a number of seconds, got {value!r}"
        ) from None
    if not seconds > 0:
        raise ValueError(f"$PYPELN_STALL_AFTER must be > 0 seconds, got {value!r}")
    return seconds


#: How often a run's watch samples its statistics (queue fills, items handed on), seconds.
SAMPLE_EVERY = 0.1


class StallWatch:
    """A daemon thread that samples the run's statistics (``sample()``) every
    ``SAMPLE_EVERY`` seconds and, with ``after`` (0: off), warns when ``progress()`` stays the
    same for ``after`` seconds. ``report()`` builds the text of the warning (called only when
    the run stalled). ``close()`` takes a last sample.
    """

    def __init__(
        self,
        after: float,
        progress: Callable[[], int],
        report: Callable[[], str],
        sample: Callable[[], None] = lambda: None,
    ) -> None:
        self._after = after
        self._progress = progress
        self._report = report
        self._sample = sample
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pypeln run watch", daemon=True)
        self._starting = False

    def start(self) -> None:
        """Start watching. (Apart from ``__init__``: whoever must close the watch holds it
        before its thread runs, even if Ctrl-C lands in between.)"""
        self._starting = True
        self._thread.start()

    def close(self) -> None:
        self._ended.set()
        if self._starting and wait_started(self._thread):
            self._thread.join()
        self._sample()

    def _watch(self) -> None:
        after = self._after
        last, warned, since = self._progress(), False, monotonic()
        while not self._ended.wait(min(SAMPLE_EVERY, after) if after else SAMPLE_EVERY):
            self._sample()
            if not after:
                continue
            now = self._progress()
            if now != last:
                last, warned, since = now, False, monotonic()
            elif not warned and monotonic() - since >= after:
                warned = True
                message = (
                    f"pypeln: nothing moved for {after:g} s; where the run is:\n" + self._report()
                )
                warnings.warn(StallWarning(message), stacklevel=1)


def describe_frames(frames: Iterable[FrameType], holding: Index | None = None) -> str:
    """The innermost stack lines of a worker, and the index of the element it holds."""
    frames = list(frames)
    if not frames:
        return "(no frame)"
    summary = traceback.StackSummary.extract(((f, f.f_lineno) for f in frames), limit=None)
    innermost = traceback.StackSummary.from_list(summary[-STACK_LINES:])
    lines = "".join(innermost.format()).rstrip()
    element = "" if holding is None else f"holding element {holding}\n"
    return element + lines


def thread_frames(thread: threading.Thread) -> list[FrameType]:
    """The frames of ``thread``'s stack, outermost first."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or -1)
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames[::-1]


def coroutine_frames(coroutine: object) -> list[FrameType]:
    """The frames of a coroutine and of what it awaits, outermost first (a task's stack)."""
    frames = []
    while coroutine is not None:
        frame = next(
            (
                getattr(coroutine, name)
                for name in ("cr_frame", "ag_frame", "gi_frame")
                if getattr(coroutine, name, None) is not None
            ),
            None,
        )
        if frame is None:
            break
        frames.append(frame)
        coroutine = next(
            (
                getattr(coroutine, name)
                for name in ("cr_await", "ag_await", "gi_yieldfrom")
                if getattr(coroutine, name, None) is not None
            ),
            None,
        )
    return frames


def run_report(
    nodes: Iterable[Node],
    channels: Sequence[ChannelStatistics],
    worker_state: Callable[[Node, int], str | None],
) -> str:
    """Each stage: its input channel's fill, and what each of its workers is doing
    (``worker_state`` gives its text, None for a worker that finished)."""
    lines = []
    for node in nodes:
        if node.inbox is None:
            lines.append(f"source {node.name!r}:")
        else:
            inbox = channels[node.inbox]
            held, bound = inbox.fill, inbox.maxsize
            lines.append(f"stage {node.name!r}: {held} of {bound or 'unbounded'} in its queue")
        for index in range(node.workers):
            text = worker_state(node, index)
            body = "(finished)" if text is None else text.rstrip().replace("\n", "\n      ")
            lines.append(f"  worker {index}:\n      {body}")
    return "\n".join(lines)


def watch(
    after: float,
    channels: Callable[[], Sequence[ChannelStatistics]],
    report: Callable[[Sequence[ChannelStatistics]], str],
    sample: Callable[[], None],
) -> StallWatch:
    """The watch of one run, to ``start()``: it samples its statistics, and warns of a stall
    when ``after`` is set; progress is what readers took from the channels (their
    ``taken``)."""
    return StallWatch(
        after,
        lambda: sum(channel.taken for channel in channels()),
        lambda: report(channels()),
        sample,
    )
