"""The ``process`` runtime: every stage worker is a process; sources run in parent threads.

::

    parent: source thread ──pipe──► stage 1 processes ──pipe──► … ──pipe──► consumer (parent)
                                                                                │ waits on data,
    parent: stop pipe ──► every wait of every worker and source thread          │ worker reports
                                                                                │ and sentinels
The consumer's every wait also watches each worker's report pipe and process sentinel: a
worker's error, or its death without a report (``WorkerCrashedError``), stops the run at
once. Closing the run writes the stop pipe, which wakes every wait of every worker; workers
run ``on_done`` and exit. Any still running after ``STOP_GRACE`` (busy in user code) are
killed, so every process of the run is gone within a second.

The default start method, ``"auto"``, is ``fork`` while the process has a single thread
(checked with the OS, so threads started by C libraries count too) and ``forkserver``
otherwise. ``fork`` is the fastest (4 workers start in ~15 ms here) and safe in a
single-threaded process; in a process with other threads (a pipeline that mixes thread and
process stages always has some) it copies locks those threads hold, and a child can
deadlock on one. ``forkserver`` forks workers from a clean single-threaded server with
pypeln already imported: safe, but ~3x slower to start. ``spawn`` starts a fresh interpreter
per worker (~0.3 s for 4 workers here).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from functools import partial
from multiprocessing.connection import wait as wait_for_any
from time import monotonic
from typing import Any

from .._errors import Stopped, WorkerCrashedError
from .._hooks import WorkerStatus
from .._kernels import Element
from .._plan import Node, compile_plan
from .._session import DeadlineFactory
from .._stage import Stage
from .._stats import Counters, RunStatistics
from ._blocking import MAX_BATCH, Channel, consume, join_threads, run_worker
from ._pipes import PipeMutex, Waiter, close_fds, make_pipe, split_frames
from ._process_channel import ChannelWiring, QueueFill, ReaderEnd, WriterEnd, flags_array
from ._process_child import WorkerSpec, worker_main
from ._process_codec import unpack_error
from ._process_shared import ShippedStage, counters_array
from ._shared_buffers import release_worker, remove_directory, run_directory
from ._stall import StallWatch, describe_frames, run_report, stall_after, thread_frames, watch

START_METHODS = ("auto", "forkserver", "spawn", "fork")
#: Used when neither the stage's runtime, ``set_start_method`` nor $PYPELN_START_METHOD says.
DEFAULT_START_METHOD = "auto"
#: What "auto" uses when the process has other threads.
SAFE_START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
#: How long stopping waits for workers to finish (``on_done``) before killing them.
STOP_GRACE = 0.5
#: How long a stall report waits for the workers' stack dumps.
DUMP_WAIT = 0.2
#: How long stopping waits for source threads busy in user code before leaving them.
JOIN_GRACE = 1.0

_chosen: dict[str, str] = {}  # the global start method, set by set_start_method


def check_start_method(where: str, method: object) -> str:
    available = ["auto", *multiprocessing.get_all_start_methods()]
    if method not in START_METHODS or method not in available:
        available = [m for m in START_METHODS if m in available]
        raise ValueError(f"{where}: start_method must be one of {available}, got {method!r}")
    return str(method)


def set_start_method(method: str | None) -> None:
    """Start the workers of every ``pl.process`` stage with ``method`` from now on.

    One of ``"auto"`` (the default: ``fork`` in a single-threaded process, ``forkserver``
    otherwise), ``"forkserver"``, ``"spawn"`` or ``"fork"``; the environment variable
    ``PYPELN_START_METHOD`` does the same without code. ``None`` undoes the choice.

    >>> set_start_method("spawn")
    >>> default_start_method()
    'spawn'
    >>> set_start_method(None)  # back to $PYPELN_START_METHOD, or "auto"
    """
    if method is None:
        _chosen.clear()
        return
    _chosen["method"] = check_start_method("set_start_method()", method)


def default_start_method() -> str:
    if "method" in _chosen:
        return _chosen["method"]
    from_env = os.environ.get("PYPELN_START_METHOD")
    if from_env:
        return check_start_method("$PYPELN_START_METHOD", from_env)
    return DEFAULT_START_METHOD


class ProcessRuntime:
    """Runs a graph with one process per stage worker (see the module docstring)."""

    name = "process"

    def __init__(self, start_method: str | None = None) -> None:
        if start_method is not None:
            check_start_method("using()", start_method)
        self.start_method = start_method

    def context(self) -> Any:
        method = self.start_method or default_start_method()
        if method == "auto":
            method = "fork" if _single_threaded() else SAFE_START_METHOD
        if method == "forkserver":
            _preload_forkserver()
        return multiprocessing.get_context(method)

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(ProcessRun, self, stage, maxsize, stats))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProcessRuntime, (self.start_method,))


def _single_threaded() -> bool:
    """Whether this process runs one thread only (C libraries' threads included, on Linux)."""
    if sys.platform != "linux":
        return False  # fork is unsafe on macOS whatever the threads; elsewhere unknown
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _preload_forkserver() -> None:
    """Have the fork server import pypeln once, so workers forked from it start at once."""
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", 1) is not None:
        return  # already running (or an unknown version): nothing to do
    modules = list(getattr(server, "_preload_modules", ["__main__"]))
    if __name__ not in modules:
        multiprocessing.get_context("forkserver").set_forkserver_preload([*modules, __name__])


#: Runs not closed yet: closed at interpreter exit, before multiprocessing joins their
#: workers (which would otherwise wait forever for a consumer that is gone).
_open_runs: weakref.WeakSet[ProcessRun] = weakref.WeakSet()


@atexit.register
def _close_open_runs() -> None:
    for run in list(_open_runs):
        run.close()


class ProcessRun:
    """One run of a plan: its pipes, shared memory, worker processes and source threads."""

    def __init__(
        self, runtime: ProcessRuntime, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> None:
        self.plan = compile_plan(stage, runtime, maxsize)
        self.statistics = stats
        self._context = runtime.context()
        self._fds: list[int] = []
        self._lock = threading.Lock()
        self._closed = self._released = False
        self._sources_running = 0
        self._watch_fds: list[int] | None = None
        self._buffers = ""
        try:
            self._allocate()
        except BaseException:
            close_fds(self._fds)
            remove_directory(self._buffers)
            raise
        _open_runs.add(self)

    def _allocate(self) -> None:
        plan = self.plan
        self._buffers = run_directory()  # a bad $PYPELN_ZERO_COPY fails before any start
        self._stop_r, self._stop_w = self._pipe(make_pipe())
        self._status_lock = self._pipe(PipeMutex.create())
        size = sum(ChannelWiring.flags_needed(spec.producers) for spec in plan.channels)
        self._flags = flags_array(size + len(plan.nodes), self._context)
        self._wirings: list[ChannelWiring] = []
        base = 0
        for spec in plan.channels:
            wiring = ChannelWiring.create(
                spec.maxsize, spec.producers, spec.readers, base, self._buffers
            )
            self._fds.extend(wiring.fds())
            self._wirings.append(wiring)
            base += ChannelWiring.flags_needed(spec.producers)
        self._status_base = base
        self._slots = self._producer_slots()
        self._workers: dict[int, _Worker] = {}  # by sentinel
        self._threads: list[threading.Thread] = []
        self._source_threads: dict[int, threading.Thread] = {}
        self._stall_after = 0.0
        self._stall: StallWatch | None = None
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self.waiter = Waiter(self._stop_r, self._watched, self._on_watch)
        self.output: Channel = ReaderEnd(self._wirings[plan.output], self._flags, self.waiter)

    # -- starting --------------------------------------------------------------------------

    def start(self) -> None:
        self._stall_after = stall_after()  # a bad setting fails before any worker starts
        workers = [node for node in self.plan.nodes if node.stage is not None]
        counters = counters_array(sum(node.workers for node in workers), self._context)
        counter = 0
        for position, node in enumerate(self.plan.nodes):
            self._flags[self._status_base + position] = node.workers
            if node.stage is None:
                continue
            shipped = Node(node.name, node.workers, ShippedStage(node.stage), None, node.inbox)  # type: ignore[arg-type]
            shipped.outboxes = node.outboxes
            for index in range(node.workers):
                self.statistics.add(node.name, counters[counter])
                spec = self._spec(node, shipped, index, counters, counter, position)
                self._start_worker(node, index, spec)
                counter += 1
        for node in self.plan.nodes:  # sources last: their first items find workers ready
            if node.stage is None:
                self._start_source(node)
        fills = [QueueFill(wiring, self._flags) for wiring in self._wirings]
        self._stall = watch(self._stall_after, fills, partial(self._stall_report, fills))

    def _spec(
        self, node: Node, shipped: Node, index: int, counters: Any, counter: int, position: int
    ) -> WorkerSpec:
        assert node.inbox is not None
        channels = {node.inbox: self._wirings[node.inbox].view(None)}
        slots = {}
        for outbox in node.outboxes:
            slots[outbox] = self._slots[id(node), index, outbox]
            channels[outbox] = self._wirings[outbox].view(slots[outbox])
        return WorkerSpec(
            node=shipped,
            index=index,
            channels=channels,
            slots=slots,
            flags=self._flags,
            counters=counters,
            counter=counter,
            status_slot=self._status_base + position,
            status_lock=self._status_lock,
            stop_fd=self._stop_r,
            report_fd=-1,  # set per worker
            stop_write_fd=self._stop_w,
        )

    def _start_worker(self, node: Node, index: int, spec: WorkerSpec) -> None:
        report_r, report_w = make_pipe()
        spec.report_fd = report_w
        dump_r, spec.dump_fd = make_pipe() if self._stall_after else (-1, -1)
        process = self._context.Process(
            target=worker_main, args=(spec,), name=f"pypeln {node.name} #{index}"
        )
        try:
            process.start()
        except BaseException:
            close_fds([report_r, dump_r])
            raise
        finally:
            close_fds([report_w, spec.dump_fd])
        worker = _Worker(node, index, spec, process, report_r)
        worker.dump_fd = dump_r
        self._workers[process.sentinel] = worker
        self._watch_fds = None

    def _start_source(self, node: Node) -> None:
        context = _SourceContext(self, node)
        thread = threading.Thread(
            target=self._source_main, args=(node, context), name=f"pypeln {node.name}", daemon=True
        )
        self._threads.append(thread)
        self._source_threads[id(node)] = thread
        with self._lock:
            self._sources_running += 1
        thread.start()

    def _source_main(self, node: Node, context: _SourceContext) -> None:
        try:
            run_worker(node, 0, context)
        finally:
            with self._lock:
                self._sources_running -= 1
                release = self._closed and not self._sources_running
            if release:  # close() left the pipes to us: we might still have written to them
                self._release()

    def _producer_slots(self) -> dict[tuple[int, int, int], int]:
        slots: dict[tuple[int, int, int], int] = {}
        taken = [0] * len(self._wirings)
        for node in self.plan.nodes:
            for outbox in dict.fromkeys(node.outboxes):  # one slot per channel, however listed
                for index in range(node.workers):
                    slots[id(node), index, outbox] = taken[outbox]
                    taken[outbox] += 1
        return slots

    def writer(self, node: Node, index: int, channel: int) -> WriterEnd:
        slot = self._slots[id(node), index, channel]
        waiter = Waiter(self._stop_r)
        wiring, alone = self._wirings[channel], len(node.outboxes) == 1
        return WriterEnd(wiring, slot, self._flags, waiter, node.name, alone)

    def _stall_report(self, fills: list[QueueFill]) -> str:
        """Where the run is: worker processes dump their threads' stacks on SIGUSR1."""
        workers = {(id(w.node), w.index): w for w in list(self._workers.values())}
        for worker in workers.values():
            try:
                os.kill(worker.process.pid, signal.SIGUSR1)
            except OSError:  # ended meanwhile
                pass
        time.sleep(DUMP_WAIT)  # the handlers write at once; only a stalled run gets here

        def state(node: Node, index: int) -> str | None:
            if node.stage is None:
                thread = self._source_threads.get(id(node))
                if thread is None or not thread.is_alive():
                    return None
                return describe_frames(thread_frames(thread))
            worker = workers.get((id(node), index))
            return None if worker is None else worker.read_dump()

        return run_report(self.plan.nodes, fills, state)

    # -- watching workers --------------------------------------------------------------------

    def _watched(self) -> Sequence[int]:
        """Every worker's sentinel and report pipe (kept: the consumer asks on every wait)."""
        if self._watch_fds is None:
            self._watch_fds = [fd for worker in self._workers.values() for fd in worker.fds()]
        return self._watch_fds

    def _on_watch(self, ready: list[int]) -> None:
        """A worker reported or ended: record its error or its death, and stop the run."""
        for worker in list(self._workers.values()):
            if worker.report_fd in ready or worker.sentinel in ready:
                self._check(worker, ended=worker.sentinel in ready)
        if self._error is not None:
            raise Stopped

    def _check(self, worker: _Worker, ended: bool) -> None:
        self._watch_fds = None  # what is watched may change below
        for message in worker.read_reports():
            if message[0] == "error":
                worker.reported = True
                self.fail(unpack_error(message[1]))
            elif message[0] == "started":
                worker.started = True
            elif message[0] == "replaced":
                worker.reported = worker.replaced = True
            else:
                worker.reported = worker.done = True
        if ended:
            pid = worker.process.pid
            worker.reap()
            del self._workers[worker.sentinel]
            if worker.replaced and self._error is None:
                release_worker(self._buffers, worker.spec.counter, pid)
                # With the run's start method: a successor runs the same closures.
                self._start_worker(worker.node, worker.index, worker.spec)
            elif not worker.reported:
                crash = WorkerCrashedError(
                    worker.stage, worker.index, worker.exitcode, worker.started
                )
                self.fail(crash)

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop everything."""
        with self._error_lock:
            if self._error is None:
                self._error = error
        self._stop()

    def raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    # -- stopping --------------------------------------------------------------------------

    def _stop(self) -> None:
        with self._lock:
            if self._released:  # its number may belong to another file by now
                return
            try:
                os.write(self._stop_w, b"\0")
            except (BlockingIOError, OSError):
                pass  # already written: it stays readable

    def close(self) -> None:
        """Stop every worker; kill those still busy after ``STOP_GRACE``; release everything.

        A source thread still busy in user code after ``JOIN_GRACE`` keeps the run's pipes
        open until it ends: closed under it, their numbers could be reused by the next run.
        """
        if self._closed:
            return
        if self._stall is not None:
            self._stall.close()
        _open_runs.discard(self)
        self._stop()
        deadline = monotonic() + STOP_GRACE
        while self._workers:
            self._watch_fds = None
            left = deadline - monotonic()
            ready = wait_for_any(self._watched(), timeout=max(0.0, left))
            for worker in list(self._workers.values()):
                if worker.sentinel in ready:
                    worker.read_reports()  # not read, a report could block the worker's exit
                    worker.reap()
                    del self._workers[worker.sentinel]
                elif worker.report_fd in ready:
                    worker.read_reports()
            if left <= 0:
                for worker in self._workers.values():
                    worker.kill()
                self._workers.clear()
        join_threads(self._threads, JOIN_GRACE)
        with self._lock:
            self._closed = True
            release = not self._sources_running
        if release:
            self._release()
        self.waiter.forget_watch()  # no cycle keeps this run (and its stages' closures) alive

    def _release(self) -> None:
        with self._lock:
            self._released = True
            close_fds(self._fds)
            self._fds.clear()
            remove_directory(self._buffers)

    def _pipe(self, fds: tuple[int, int]) -> tuple[int, int]:
        self._fds.extend(fds)
        return fds


class _SourceContext:
    """``WorkerContext`` of a source thread in the parent."""

    def __init__(self, run: ProcessRun, node: Node) -> None:
        self._run = run
        self._node = node
        self.statistics = run.statistics
        self.deadline: DeadlineFactory | None = None
        self.max_batch = MAX_BATCH

    def channel(self, index: int) -> Channel:
        return self._run.writer(self._node, 0, index)

    def status(self, node: Node) -> WorkerStatus:
        raise AssertionError("a source has no hooks")

    def counters(self, node: Node, index: int) -> Counters:
        return self.statistics.worker(node.name)

    def fail(self, error: BaseException) -> None:
        self._run.fail(error)


class _Worker:
    """The parent's view of one worker process: its sentinel and its report pipe."""

    def __init__(
        self, node: Node, index: int, spec: WorkerSpec, process: Any, report_fd: int
    ) -> None:
        self.node = node
        self.stage = node.name
        self.spec = spec
        self.index = index
        self.process = process
        self.sentinel: int = process.sentinel
        self.report_fd = report_fd
        self.done = False
        self.reported = False  # an error or "done": anything else is a crash
        self.started = False
        self.replaced = False  # it timed out and asked for a successor
        self.exitcode: int | None = None
        self._buffer = bytearray()
        self._report_open = True
        self.dump_fd = -1  # its stack dumps (the stall watch)

    def fds(self) -> list[int]:
        return [self.sentinel, self.report_fd] if self._report_open else [self.sentinel]

    def read_reports(self) -> list[tuple[Any, ...]]:
        """Every complete report the worker wrote so far (never blocks)."""
        while True:
            try:
                chunk = os.read(self.report_fd, 1 << 20)
            except (BlockingIOError, OSError):
                break
            if not chunk:  # the worker exited: only its sentinel is left to watch
                self._report_open = False
                break
            self._buffer += chunk
        return [pickle.loads(payload) for payload in split_frames(self._buffer)]

    def read_dump(self) -> str:
        """What the worker wrote on SIGUSR1: the stacks of its threads."""
        chunks = []
        while True:
            try:
                chunk = os.read(self.dump_fd, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        dump = b"".join(chunks).decode(errors="replace").strip()
        pid = self.process.pid
        return f"in process {pid}:\n{dump}" if dump else f"in process {pid} (no stack came)"

    def reap(self) -> None:
        self.process.join()
        self.exitcode = self.process.exitcode
        self.process.close()
        close_fds([self.report_fd, self.dump_fd])

    def kill(self) -> None:
        self.process.kill()
        self.reap()
