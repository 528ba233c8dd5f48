"""The body of a worker process: the shared blocking loop, wired to pipes.

A worker reports to its parent on its own report pipe: ``("started",)`` first of all, then
``("error", packed exception)`` when it fails or ``("done",)`` when it ends normally. Ending
in any other way (a signal, ``os._exit``, a crash) is seen by the parent through the
process sentinel. Ctrl-C is the
parent's to handle: a worker ignores SIGINT and stops when the parent says so.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import os
import pickle
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..._errors import Stopped, add_note
from ..._pipeline.plan import Node
from ..._worker.counters import Counters, RunStatistics
from ..._worker.hooks import WorkerStatus
from ..._worker.kernels import SKIP
from ..._worker.policies.guards import Pause
from ..._worker.policies.rate import Limiter
from ..._worker.session import DeadlineFactory
from ..common.batching import MAX_BATCH
from ..common.deadline import ThreadDeadline
from ..common.stop_signal import StopSignal
from ..common.worker_loop import run_worker
from ..contract import WorkerContext
from ..remote.errors import pack_error
from .channel import ChannelWiring, ReaderEnd, SharedInts, WriterEnd
from .codec import Route
from .memory.buffers import holder_id
from .pipes import PipeMutex, Waiter, write_frame
from .run_state import ArrivedStage, SharedActiveWorkers, SharedSchedule, ShippedStage
from .start.fd_transfer import inherit
from .start.role import mark_pypeln_process


@dataclass
class WorkerSpec:
    """Everything worker ``index`` of ``node`` needs, sent once when its process starts."""

    node: Node  # its stage is a ShippedStage (an ArrivedStage in a started worker)
    index: int
    channels: dict[int, ChannelWiring]  # this worker's views of its inbox and outboxes
    slots: dict[int, int]  # outbox -> this worker's producer slot in it
    routes: dict[int, Route]  # outbox -> where its batches go
    flags: SharedInts
    counters: Any  # a SharedCounters array
    counter: int  # this worker's entry in it
    status_slot: int  # the node's active-worker count in ``flags``
    rate_slot: int  # the node's ``SharedSchedule`` in ``flags`` (used with a ``rate``)
    status_lock: tuple[int, int]
    stop_fd: int
    report_fd: int
    #: The stop pipe's write end, which a forked worker inherits and must close: otherwise
    #: the pipe never reports the parent's death and the worker outlives it.
    stop_write_fd: int = -1
    #: Where the worker writes its threads' stacks on SIGUSR1 (the stall watch; -1: off).
    dump_fd: int = -1

    def __reduce__(self) -> tuple[Any, ...]:
        # Descriptors travel as descriptors (spawn, forkserver); fork children inherit them.
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        lock = self.status_lock
        fields.update(
            status_lock=(inherit(lock[0]), inherit(lock[1])),
            stop_fd=inherit(self.stop_fd),
            report_fd=inherit(self.report_fd),
            dump_fd=inherit(self.dump_fd),
            stop_write_fd=-1,  # never sent: only a forked child has it, to close it
        )
        return (WorkerSpec, tuple(fields.values()))


class Replaced(BaseException):
    """Ends a worker whose call ran over its timeout; the parent starts its successor."""


class ReplacingDeadline(ThreadDeadline):
    """``timeout`` in a worker process: a call that runs over replaces the whole worker.

    The item is skipped and counted as on threads (and passed over by a streaming
    ``ordered``); then, instead of carrying on beside a stuck (perhaps spinning) call, the
    worker counts its successor in and, when it asks for its next item, runs ``on_done``
    and exits, which ends the stuck call with the process. The parent starts a new worker
    with the same index (it runs ``on_start``). A timeout stage's workers take one item at
    a time, so a replaced worker holds nothing else.

    A call that the stage's ``retries`` will try again is abandoned instead, as on threads
    (it runs on in this process until it returns); the worker is replaced when an item
    overruns on its last attempt.
    """

    def __init__(self, adopt: Any, *args: Any) -> None:
        super().__init__(*args)
        self._adopt = adopt
        self.replacing = False  # the worker leaves before its next item (_LeavingReader)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = super().__call__(*args, **kwargs)
        if result is SKIP and self.final:
            self._adopt()
            self.replacing = True
        return result


class _LeavingReader(ReaderEnd):
    """A worker's inbox that ends the worker instead of reading on once its deadline
    replaced it (what it made meanwhile went on before: the worker loop hands its results
    on before it reads)."""

    def __init__(self, context: ChildContext, *args: Any) -> None:
        super().__init__(*args)
        self._context = context

    def get_batch(
        self,
        limit: int,
        returned: int = 0,
        before_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        deadline = self._context.replacing_deadline
        if deadline is not None and deadline.replacing:
            self.give_back(returned)  # the last item's room: the successor reads on
            raise Replaced
        return super().get_batch(limit, returned, before_wait, timeout)


def worker_main(spec: WorkerSpec) -> None:
    """Entry point of a worker process."""
    mark_pypeln_process()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.stop_write_fd >= 0:  # forked: see WorkerSpec.stop_write_fd
        os.close(spec.stop_write_fd)
    if spec.dump_fd >= 0:  # the stall watch asks with SIGUSR1; the handler runs in C
        _dump_file.append(os.fdopen(spec.dump_fd, "w", closefd=False))
        faulthandler.register(signal.SIGUSR1, file=_dump_file[-1], all_threads=True)
    context = ChildContext(spec)
    context.report(("started",))
    if not context.load_stage():
        return
    run_worker(context.node, spec.index, context)
    if not context.failed:
        context.report(("done",))


_dump_file: list[Any] = []  # kept alive for faulthandler, which holds only its descriptor


class ChildContext(WorkerContext):
    """``WorkerContext`` of a worker process."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.node = Node(spec.node.name, spec.node.workers, None, None, spec.node.inbox)
        self.node.marks, self.node.streams = spec.node.marks, spec.node.streams
        self.node.keyed_inboxes = spec.node.keyed_inboxes
        self.node.outboxes = spec.node.outboxes
        self.spec = spec
        self.statistics = RunStatistics()  # only a source would use it: sources stay home
        self.waiter = Waiter(spec.stop_fd)
        self.failed = False
        self._stop_signal: StopSignal | None = None
        self.deadline: DeadlineFactory | None = None
        self.pause: Pause | None = self._pause
        self.max_batch = MAX_BATCH
        self._status: SharedActiveWorkers | None = None
        self.replacing_deadline: ReplacingDeadline | None = None  # with a timeout

    def load_stage(self) -> bool:
        """Load the stage's function and hooks; a failure is the stage's error."""
        shipped: ShippedStage | ArrivedStage = self.spec.node.stage  # type: ignore[assignment]
        try:
            stage = shipped.load()
        except BaseException as error:
            add_note(
                error,
                f"pypeln: stage {self.node.name!r}: its function or hooks could not be loaded "
                "in a worker process (it loads them by value and imports what they name)",
            )
            self.fail(error)
            return False
        self.node.stage = stage
        if stage.timeout:
            self.deadline = self._deadline
            self.max_batch = 1
        return True

    def reader(self, channel: int) -> ReaderEnd:
        spec = self.spec
        holder = holder_id(spec.counter)
        wiring = spec.channels[channel]
        stage = self.node.stage
        if stage is not None and stage.timeout:  # only a timeout replaces a worker
            return _LeavingReader(self, wiring, spec.flags, self.waiter, holder)
        return ReaderEnd(wiring, spec.flags, self.waiter, holder)

    def writer(self, channel: int) -> WriterEnd:
        spec, index = self.spec, channel
        wiring = spec.channels[index]
        alone = len(spec.node.outboxes) == 1  # items going to one stage only may be passed on
        return WriterEnd(
            wiring, spec.slots[index], spec.flags, self.waiter, spec.routes[index], alone
        )

    def status(self, node: Node) -> WorkerStatus:
        spec = self.spec
        lock = PipeMutex(spec.status_lock)
        self._status = SharedActiveWorkers(spec.flags, spec.status_slot, node.workers, lock)
        return self._status

    def counters(self, node: Node, index: int) -> Counters:
        counters: Counters = self.spec.counters[self.spec.counter]
        return counters

    def limiter(self, node: Node) -> Limiter | None:
        spec, stage = self.spec, node.stage
        if stage is None or not stage.rate:
            return None
        lock = PipeMutex(spec.status_lock)  # the status's: both are held for a few lines
        return SharedSchedule(spec.flags, spec.rate_slot, lock, stage.rate, node.workers)

    def fail(self, error: BaseException) -> None:
        self.failed = True
        if isinstance(error, Replaced):
            self.report(("replaced",))
        else:
            by_value = any(route.main_by_value for route in self.spec.routes.values())
            self.report(("error", pack_error(error, main_by_value=by_value)))

    def report(self, message: tuple[Any, ...]) -> None:
        try:
            write_frame(self.spec.report_fd, pickle.dumps(message), self.waiter)
        except (Stopped, OSError):
            pass  # the run is over, or the parent is gone: nobody listens

    def _deadline(self, fn: Any, timeout: float, counters: Counters) -> ThreadDeadline:
        assert self._status is not None  # a session asks for its status before its deadline
        deadline = ReplacingDeadline(self._status.adopt, fn, timeout, counters, self._stop())
        self.replacing_deadline = deadline
        return deadline

    def _pause(self, seconds: float) -> None:
        self._stop().pause(seconds)

    def _stop(self) -> StopSignal:
        """A thread-side stop signal that follows the run's stop pipe (for timeout helpers)."""
        if self._stop_signal is None:
            stop = self._stop_signal = StopSignal()
            threading.Thread(
                target=partial(_follow, self.waiter, stop), name="pypeln stop", daemon=True
            ).start()
        return self._stop_signal


def _follow(waiter: Waiter, stop: StopSignal) -> None:
    try:
        waiter.wait_for_stop()
    except Stopped:
        stop.set()
