"""``StageWorker``: one worker of a stage, living in its own Ray actor.

The driver sends it the stage once (pickled by pypeln, the script's functions and classes
by value, so tracebacks keep the user's file and line), then batches of elements; it runs
``on_start``, the stage's kernel over each batch, and ``on_done``, exactly as a worker
thread or process does. It never raises to Ray: an error comes back packed, with its
traceback as frames (``remote/errors.py``), so that the consumer gets the original type.

Batches come and go packed (``values.py``): pickled by pypeln, large buffers beside the
pickle, which Ray moves through its object store.

>>> import pypeln as pl
>>> worker = StageWorker(stage_payload(pl.sync.map(abs, [])), 0)
>>> worker.start()
>>> report, results = worker.work(0, pack([((0,), -1), ((1,), 2)]))
>>> report[:3], unpack(results)  # results, error, drops; then the batch's nanoseconds
((2, None, (0, 0, 0)), [((0,), 1), ((1,), 2)])
>>> worker.finish(1, 0)
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterator
from typing import Any

import ray

from ..._pipeline.stage import Stage
from ..._worker.counters import DROPS, WorkerCounters
from ..._worker.flow import clock
from ..._worker.hooks import StageStatus
from ..._worker.kernels import Element
from ..._worker.order import kernel_for
from ..._worker.session import WorkerSession
from ..common.deadline import ThreadDeadline
from ..common.stop_signal import StopSignal
from ..remote.errors import pack_error
from ..remote.pickling import dumps
from .rate import KeptSchedule
from .values import Packed, pack, unpack

#: What a batch reports to the driver: how many results it made, a packed error (or None),
#: the counters of what it dropped (``DROPS``, in order) and the nanoseconds its items took.
#: The results themselves are a second return value, which the driver may hand to the next
#: stage's actor without reading it.
Report = tuple[int, bytes | None, tuple[int, ...], int]


def stage_payload(stage: Stage[Any]) -> bytes:
    """``stage`` pickled for its actors: without its graph and its backend."""
    shipped = dataclasses.replace(stage, upstreams=(), backend=None)  # type: ignore[arg-type]
    return dumps(shipped, main_by_value=True)


class _Given:
    """The stage's status as the driver counted it, handed to ``on_done``."""

    def __init__(self) -> None:
        self.status = StageStatus(workers=1, active_workers=0)

    def finish(self) -> StageStatus:
        return self.status


class StageWorker:
    """Worker ``index`` of one stage, the body of a Ray actor (see the module docstring):
    its calls run one at a time, but ``take_held``, which runs beside them (its concurrency
    group: ``run.py`` makes the actor)."""

    def __init__(
        self,
        payload: bytes,
        index: int,
        authkey: bytes | None = None,
        path: list[str] | None = None,
        keeper: Any = None,
        marks: bool = False,
    ) -> None:
        if authkey is not None:  # multiprocessing proxies the script shares (a Manager's)
            multiprocessing.current_process().authkey = authkey
        for entry in path or ():  # the driver's own modules (on its machine), as on process
            if entry not in sys.path:
                sys.path.append(entry)
        self._payload = payload
        self._index = index
        self._limiter = None if keeper is None else KeptSchedule(keeper)  # the stage's rate
        self._marks = marks  # it feeds a streaming ordered (see _worker/order.py)
        self._counters = WorkerCounters()
        self._given = _Given()
        self._stop = StopSignal()
        self._session: WorkerSession | None = None
        self._call: Any = None
        # Results of the call that runs, not sent yet: the call appends (a deque's append is
        # atomic, so no lock per item), the takers take a prefix one at a time (the lock).
        self._held: deque[Element] = deque()
        self._lock = threading.Lock()
        self._running = -1  # the number of the call that runs or ran last (see take_held)
        self._stage_name = ""
        self._working = -1  # the thread that runs the calls (Ray's, known at the first)

    def start(self) -> bytes | None:
        """Load the stage and run ``on_start``; a packed error if either failed."""
        self._working = threading.get_ident()  # a slow on_start shows where it is too
        try:
            stage: Stage[Any] = pickle.loads(self._payload)
            self._stage_name = stage.name
            deadline = _deadline(self._stop)
            self._session = WorkerSession(
                stage,
                self._index,
                self._given,
                self._counters,
                deadline,
                self._stop.pause,
                self._limiter,
            )
            self._call = self._session.open()
        except BaseException as error:
            return pack_error(error, main_by_value=True)
        return None

    @ray.method(num_returns=2)
    def work(self, call: int, *parts: Packed) -> tuple[Report, Packed]:
        """Run the stage's kernel over the elements of ``parts`` (a batch, or the results of
        other actors' calls): its report and its results (those ``take_held`` did not take
        meanwhile). ``call`` numbers the driver's calls to this actor."""
        assert self._session is not None
        error = None
        self._working = threading.get_ident()
        with self._lock:
            self._running = call
        began = clock()
        try:
            elements = [element for part in parts for element in unpack(part)]
            hold = self._held.append
            kernel = kernel_for(self._session.stage.kind, marks=self._marks)
            for element in kernel(self._call, self._until_stopped(elements)):
                hold(element)
        except BaseException as raised:
            error = pack_error(raised, main_by_value=True)
        try:
            count, results = self._take(call)
        except BaseException as raised:  # a result that cannot be pickled
            count, results = 0, pack([])
            error = error or pack_error(raised, main_by_value=True)
        return (count, error, self._counts(), clock() - began), results

    def _until_stopped(self, elements: list[Element]) -> Iterator[Element]:
        """``elements`` until the run stops: the rest of a batch is not wanted then (each
        element is looked at before its call, also where calls yield nothing)."""
        stop = self._stop
        for element in elements:
            if stop.is_set:
                return
            yield element

    @ray.method(concurrency_group="poke")
    def stop(self) -> None:
        """The run stops: a call waiting out its ``timeout`` is let go now (beside ``work``)."""
        self._stop.set()

    @ray.method(concurrency_group="poke")
    def where(self) -> str:
        """Where this actor's threads are (the stall report): its process and stacks."""
        frame = sys._current_frames().get(self._working)
        stack = "(between calls)" if frame is None else "".join(traceback.format_stack(frame))
        return f"in process {os.getpid()}:\n{stack}"

    @ray.method(concurrency_group="poke")
    def take_held(self, call: int) -> tuple[int, Packed]:
        """The results made so far by call number ``call`` (called beside it: a reader
        waits while the call is busy in user code, see ``run.py``); none once another call
        runs, whose results must not overtake those of the calls before it."""
        return self._take(call)

    def _take(self, call: int) -> tuple[int, Packed]:
        held = self._held
        with self._lock:
            if call != self._running:
                return 0, pack([])
            taken = [held.popleft() for _ in range(len(held))]
        return len(taken), pack(taken, f"a result of stage {self._stage_name!r}")

    def finish(self, workers: int, active_workers: int) -> bytes | None:
        """Run ``on_done`` with the stage's status as the driver counted it."""
        self._given.status = StageStatus(workers, active_workers)
        self._stop.set()  # calls left behind by a timeout end their wait
        if self._session is None:
            return None
        try:
            self._session.close()
        except BaseException as error:
            return pack_error(error, main_by_value=True)
        return None

    def _counts(self) -> tuple[int, ...]:
        return tuple(getattr(self._counters, name) for name in DROPS)


def _deadline(stop: StopSignal) -> Any:
    def deadline(fn: Any, timeout: float, counters: Any) -> ThreadDeadline:
        return ThreadDeadline(fn, timeout, counters, stop=stop)

    return deadline
