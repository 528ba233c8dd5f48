"""Bounding a run: a deadline, and ending what a stuck run leaves behind.

A contender that hangs (a deadlocked pipeline, a peer waiting forever) must become an error in
the report, not stop the suite. ``guarded`` arms a ``SIGALRM`` timer around one run: its
handler raises ``RunTimeout`` in the main thread, which interrupts the blocking call the run
waits in (Python retries an interrupted call only when the handler returns normally). If the
run's own cleanup blocks too, the timer fires again every few seconds. After a timeout, the
processes the run started and left running are killed, so that the next contender runs on a
quiet machine. No thread is used: a thread would change ``pl.process``'s default start method.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

RUN_TIMEOUT = 60.0  # seconds; the longest normal run of the full suite takes about 3
AGAIN_AFTER = 5.0  # seconds between further alarms while a timed-out run's cleanup is stuck
# Processes that multiprocessing starts once per program and keeps: not a run's workers.
PROGRAM_HELPERS = ("multiprocessing.forkserver import main", "resource_tracker import main")


class RunTimeout(Exception):
    """A run took longer than its deadline."""


def is_program_helper(process: Any) -> bool:
    """Whether a ``psutil.Process`` is multiprocessing's fork server or resource tracker."""
    try:
        command = " ".join(process.cmdline())
    except Exception:
        return False
    return any(helper in command for helper in PROGRAM_HELPERS)


def running_descendants() -> dict[int, Any]:
    """This process's descendants that still run, by pid (zombies have ended; {} without psutil)."""
    try:
        import psutil
    except ImportError:
        return {}
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found[child.pid] = child
        except psutil.Error:
            continue
    return found


def end_leftovers(before: set[int]) -> int:
    """Kill the descendants started since ``before`` (program helpers spared); how many."""
    leftovers = [
        child
        for pid, child in running_descendants().items()
        if pid not in before and not is_program_helper(child)
    ]
    for child in leftovers:
        try:
            child.kill()
            child.wait(timeout=5)
        except Exception:
            continue  # already gone, or not ours to wait for
    return len(leftovers)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``RunTimeout`` in the main thread if the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: unbounded
        return

    def expire(signum: int, frame: Any) -> None:
        raise RunTimeout(f"no result within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, AGAIN_AFTER)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def guarded(seconds: float | None = None) -> Iterator[None]:
    """``deadline(seconds or RUN_TIMEOUT)``; after a timeout, kill what the run left running."""
    before = set(running_descendants())
    try:
        with deadline(seconds or RUN_TIMEOUT):
            yield
    except RunTimeout as exc:
        killed = end_leftovers(before)
        raise RunTimeout(f"{exc}; {killed} processes it left running were killed") from None
