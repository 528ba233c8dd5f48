"""``ProcessRun``: the parent's side of a process run (see the package docstring).

It allocates the run's pipes, shared integers and shared-memory directory; starts the
workers (``start/``) and runs each source in a thread; watches every worker's report pipe
and sentinel from the consumer's waits; and on close writes the stop pipe, waits
``STOP_GRACE`` for workers to finish, kills the rest, reaps every one and releases
everything it allocated.
"""

from __future__ import annotations

import atexit
import multiprocessing.util  # noqa: F401  (see _open_runs)
import os
import pickle
import signal
import threading
import time
import weakref
from collections.abc import Sequence
from time import monotonic
from typing import Any

from ..._errors import Stopped, WorkerCrashedError
from ..._pipeline.plan import Node, compile_plan
from ..._pipeline.stage import Stage
from ..._worker.counters import Counters, RunStatistics
from ..._worker.hooks import WorkerStatus
from ..._worker.policies.guards import Pause
from ..._worker.policies.rate import Limiter
from ..._worker.session import DeadlineFactory
from ..common.batching import MAX_BATCH
from ..common.consumer import join_threads
from ..common.first_error import FirstError
from ..common.stall import describe_frames, run_report, stall_after, thread_frames
from ..common.worker_loop import run_worker
from ..contract import Backend, ChannelStatistics, Run, WorkerContext
from ..remote.errors import unpack_error
from .channel import ChannelWiring, QueueFill, ReaderEnd, WriterEnd, flags_array
from .child import WorkerSpec, worker_main
from .codec import Route
from .memory.buffers import release_worker, remove_directory, run_directory
from .pipes import PipeMutex, Waiter, close_fds, make_pipe, split_frames
from .run_state import ShippedStage, counters_array
from .start.fork_server_client import modules_of
from .start.methods import (
    WorkerProcess,
    WorkerStart,
    start_workers,
)

#: How long stopping waits for workers to finish (``on_done``) before killing them.
STOP_GRACE = 0.5
#: How long a stall report waits for the workers' stack dumps.
DUMP_WAIT = 0.2
#: How long stopping waits for source threads busy in user code before leaving them.
JOIN_GRACE = 1.0


#: Runs not closed yet: closed at interpreter exit, before multiprocessing joins their
#: workers (which would otherwise wait forever for a consumer that is gone). Exit handlers
#: run last registered first: multiprocessing.util registers its handler when imported, so
#: it is imported above, before this module registers its own.
_open_runs: weakref.WeakSet[ProcessRun] = weakref.WeakSet()


@atexit.register
def _close_open_runs() -> None:
    for run in list(_open_runs):
        run.close()


class ProcessRun(Run):
    """One run of a plan: its pipes, shared memory, worker processes and source threads."""

    def __init__(
        self,
        backend: Backend,
        start_method: str,
        stage: Stage[Any],
        maxsize: int,
        stats: RunStatistics,
    ) -> None:
        self.plan = compile_plan(stage, backend, maxsize)
        self.statistics = stats
        self._method = start_method
        self._fds: list[int] = []
        self._arrays: list[Any] = []  # shared integers, closed with the run
        self._lock = threading.Lock()
        self._watching = threading.RLock()  # see _on_watch (re-entered: a successor starts)
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
        # Then per node: its active workers, and its rate's schedule (SharedSchedule).
        self._flags = self._shared(flags_array(size + 2 * len(plan.nodes)))
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
        self._first_error = FirstError()
        self.waiter = Waiter(self._stop_r, self._watched, self._on_watch)
        self._output = ReaderEnd(self._wirings[plan.output], self._flags, self.waiter)
        self._fills = [QueueFill(wiring, self._flags) for wiring in self._wirings]

    @property
    def output(self) -> ReaderEnd:
        return self._output

    def relay_reader(self, channel: int) -> ReaderEnd:
        """A reader in this process of ``channel``: a relay to a stage of another backend."""
        return ReaderEnd(self._wirings[channel], self._flags, self.waiter)

    def channel_statistics(self) -> list[ChannelStatistics]:
        return [fill.statistics() for fill in self._fills]

    # -- starting --------------------------------------------------------------------------

    def start(self) -> None:
        self._stall_after = stall_after()  # workers open a stack-dump pipe if it is on
        workers = [node for node in self.plan.nodes if node.stage is not None]
        counters = self._shared(counters_array(sum(node.workers for node in workers)))
        counter, jobs = 0, []
        for position, node in enumerate(self.plan.nodes):
            self._flags[self._status_base + position] = node.workers
            if node.stage is None:
                continue
            shipped = Node(node.name, node.workers, ShippedStage(node.stage), None, node.inbox)  # type: ignore[arg-type]
            shipped.marks, shipped.streams = node.marks, node.streams
            shipped.keyed_inboxes = node.keyed_inboxes
            shipped.outboxes = node.outboxes
            for index in range(node.workers):
                self.statistics.add(node.name, counters[counter], id(node))
                jobs.append(
                    (node, index, self._spec(node, shipped, index, counters, counter, position))
                )
                counter += 1
        self._start_workers(jobs)
        for node in self.plan.nodes:  # sources last: their first items find workers ready
            if node.stage is None:
                self._start_source(node)

    def _spec(
        self, node: Node, shipped: Node, index: int, counters: Any, counter: int, position: int
    ) -> WorkerSpec:
        inbox = node.inbox_of(index)
        channels = {inbox: self._wirings[inbox].view(None)}
        slots, routes = {}, {}
        for outbox in node.outboxes:
            slots[outbox] = self._slots[id(node), index, outbox]
            channels[outbox] = self._wirings[outbox].view(slots[outbox])
            way = f"from its worker process to {self._reader_of(outbox)}"
            routes[outbox] = Route(f"stage {node.name!r}: its result", way)
        return WorkerSpec(
            node=shipped,
            index=index,
            channels=channels,
            slots=slots,
            routes=routes,
            flags=self._flags,
            counters=counters,
            counter=counter,
            status_slot=self._status_base + position,
            rate_slot=self._status_base + len(self.plan.nodes) + position,
            status_lock=self._status_lock,
            stop_fd=self._stop_r,
            report_fd=-1,  # set per worker
            stop_write_fd=self._stop_w,
        )

    def _start_workers(self, jobs: list[tuple[Node, int, WorkerSpec]]) -> None:
        """Start a worker per ``(node, index, spec)``: all at once from the fork server; one
        at a time otherwise (a forked worker inherits every descriptor open at the fork, so
        the next one's pipes must not exist yet)."""
        batches = [jobs] if self._method == "forkserver" else [[job] for job in jobs]
        for batch in batches:
            self._start_batch(batch)

    def _start_batch(self, jobs: list[tuple[Node, int, WorkerSpec]]) -> None:
        reads = []
        for _, _, spec in jobs:
            report_r, spec.report_fd = make_pipe()
            dump_r, spec.dump_fd = make_pipe() if self._stall_after else (-1, -1)
            reads.append((report_r, dump_r))
        starts = [
            WorkerStart(worker_main, spec, f"pypeln {node.name} #{index}", self._preload(spec))
            for node, index, spec in jobs
        ]
        try:
            processes = start_workers(self._method, starts)
        except BaseException:
            close_fds([fd for pair in reads for fd in pair])
            raise
        finally:
            close_fds([fd for _, _, spec in jobs for fd in (spec.report_fd, spec.dump_fd)])
        for (node, index, spec), (report_r, dump_r), process in zip(
            jobs, reads, processes, strict=True
        ):
            worker = _Worker(node, index, spec, process, report_r)
            worker.dump_fd = dump_r
            self._workers[process.sentinel] = worker
        self._watch_fds = None

    def _preload(self, spec: WorkerSpec) -> list[str]:
        """What the fork server should load before it forks this worker."""
        if self._method != "forkserver":
            return []
        shipped: ShippedStage = spec.node.stage  # type: ignore[assignment]
        return modules_of(shipped.payload())

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
        by_value = self._method != "fork"  # the readers do not share our __main__
        route = Route("the item", f"from {node.name} to {self._reader_of(channel)}", by_value)
        return WriterEnd(wiring, slot, self._flags, waiter, route, alone)

    def _reader_of(self, channel: int) -> str:
        """Who reads ``channel``, as errors name it."""
        if channel == self.plan.output:
            return "the consumer"
        name = next(node.name for node in self.plan.nodes if node.reads(channel))
        return f"the worker processes of stage {name!r}"

    def stall_report(self, channels: Sequence[ChannelStatistics]) -> str:
        """Where the run is: worker processes dump their threads' stacks on SIGUSR1."""
        workers = {(id(w.node), w.index): w for w in list(self._workers.values())}
        for worker in workers.values():
            try:
                os.kill(worker.pid, signal.SIGUSR1)
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

        return run_report(self.plan.nodes, channels, state)

    # -- watching workers --------------------------------------------------------------------

    def _watched(self) -> Sequence[int]:
        """Every worker's sentinel and report pipe (kept: the consumer asks on every wait)."""
        if self._watch_fds is None:
            self._watch_fds = [fd for worker in self._workers.values() for fd in worker.fds()]
        return self._watch_fds

    def _on_watch(self, ready: list[int]) -> None:
        """A worker reported or ended: record its error or its death, and stop the run.

        Two threads may wait on the run's channels at once (the consumer, and a run of
        another backend reading what this run relays to it): one at a time reads the
        reports and reaps, and a worker the other one reaped is gone from ``_workers``.
        """
        with self._watching:
            for worker in list(self._workers.values()):
                if worker.report_fd in ready or worker.sentinel in ready:
                    self._check(worker, ended=worker.sentinel in ready)
        if self._first_error.error is not None:
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
                worker.reported = True
        if ended:
            pid = worker.pid
            worker.reap()
            del self._workers[worker.sentinel]
            if worker.replaced and self._first_error.error is None:
                release_worker(self._buffers, worker.spec.counter, pid)
                # With the run's start method: a successor runs the same closures.
                self._start_workers([(worker.node, worker.index, worker.spec)])
            elif not worker.reported:
                crash = WorkerCrashedError(
                    worker.stage, worker.index, worker.exitcode, worker.started
                )
                self.fail(crash)

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop everything."""
        self._first_error.keep(error)
        self._stop()

    def raise_error(self) -> None:
        self._first_error.raise_it()

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
        _open_runs.discard(self)
        self._stop()
        deadline = monotonic() + STOP_GRACE
        while self._workers:
            self._watch_fds = None
            left = deadline - monotonic()
            ready = Waiter(None).wait(self._watched(), timeout=max(0.0, left))
            for worker in list(self._workers.values()):
                if worker.sentinel in ready:
                    worker.read_reports()  # not read, a report could block the worker's exit
                    worker.reap()
                    del self._workers[worker.sentinel]
                elif worker.report_fd in ready:
                    worker.read_reports()
            if left <= 0:  # every one killed first, then each reaped: one wait for all
                for worker in self._workers.values():
                    worker.process.kill()
                for worker in self._workers.values():
                    worker.reap()
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
            for array in self._arrays:
                array.close()
            remove_directory(self._buffers)

    def _shared(self, array: Any) -> Any:
        self._arrays.append(array)
        return array

    def _pipe(self, fds: tuple[int, int]) -> tuple[int, int]:
        self._fds.extend(fds)
        return fds


class _SourceContext(WorkerContext):
    """``WorkerContext`` of a source thread in the parent: it writes, and nothing else."""

    def __init__(self, run: ProcessRun, node: Node) -> None:
        self._run = run
        self._node = node
        self.statistics = run.statistics
        self.deadline: DeadlineFactory | None = None
        self.pause: Pause | None = None  # a source calls no function
        self.max_batch = MAX_BATCH

    def writer(self, channel: int) -> WriterEnd:
        return self._run.writer(self._node, 0, channel)

    def reader(self, channel: int) -> ReaderEnd:
        # A stage of another backend reads what this run relays to it (``Node.relays``).
        return self._run.relay_reader(channel)

    def status(self, node: Node) -> WorkerStatus:
        raise AssertionError("a source has no hooks")

    def counters(self, node: Node, index: int) -> Counters:
        return self.statistics.worker(node.name)

    def limiter(self, node: Node) -> Limiter | None:
        return None  # a source calls no function

    def fail(self, error: BaseException) -> None:
        self._run.fail(error)


class _Worker:
    """The parent's view of one worker process: its sentinel and its report pipe."""

    def __init__(
        self, node: Node, index: int, spec: WorkerSpec, process: WorkerProcess, report_fd: int
    ) -> None:
        self.node = node
        self.stage = node.name
        self.spec = spec
        self.index = index
        self.process = process
        assert process.pid is not None  # started
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.report_fd = report_fd
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
        pid = self.pid
        return f"in process {pid}:\n{dump}" if dump else f"in process {pid} (no stack came)"

    def reap(self) -> None:
        self.process.join()
        self.exitcode = self.process.exitcode
        self.process.close()
        close_fds([self.report_fd, self.dump_fd])
