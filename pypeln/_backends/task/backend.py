"""``TaskBackend`` and ``TaskRun``: workers in one event loop (see the package docstring).

>>> import asyncio
>>> import pypeln as pl
>>> async def double(x):
...     await asyncio.sleep(0)
...     return 2 * x
>>> sorted(pl.task.map(double, range(4), workers=2))  # from sync code: a helper thread
[0, 2, 4, 6]
>>> async def main():
...     return await pl.task.map(double, [5])  # in async code: the caller's loop
>>> asyncio.run(main())
[10]
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterator
from functools import partial
from typing import Any

from ..._errors import Stopped
from ..._pipeline.plan import Node
from ..._pipeline.stage import Stage
from ..._worker.async_kernels import is_async_callable, is_awaitable, resolved
from ..._worker.counters import RunStatistics
from ..._worker.kernels import Element
from ..common.batching import reader_batch
from ..common.consumer import consume, in_order, join_threads, register_stages, watch_run
from ..common.local_run import LocalRun
from ..common.stall import StallWatch, stall_after
from ..common.worker_loop import run_worker
from ..contract import Backend
from .channel import LoopChannel, resolve
from .worker import run_task_worker

#: How long stopping waits for cancelled tasks (``on_done``) and threads busy in user code.
STOP_GRACE = 1.0
EVENT_LOOPS = ("asyncio", "uvloop")
#: Sources read in the loop itself: containers whose iteration never blocks.
IN_MEMORY = (list, tuple, range, str, bytes, dict, set, frozenset)


def check_event_loop(where: str, name: object) -> str:
    if name not in EVENT_LOOPS:
        raise ValueError(f"{where}: event_loop must be one of {list(EVENT_LOOPS)}, got {name!r}")
    if name == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError as error:
            raise ValueError(
                f"{where}: event_loop 'uvloop' needs the uvloop package (pip install uvloop)"
            ) from error
    return str(name)


class TaskBackend(Backend):
    """Runs a graph in an asyncio event loop (see the module docstring)."""

    name = "task"
    async_workers = True
    #: ``workers=0`` (no limit on concurrent calls) is allowed for async functions.
    unlimited_workers = True

    def __init__(self, event_loop: str | None = None) -> None:
        if event_loop is not None:
            check_event_loop("using()", event_loop)
        self.event_loop = event_loop

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """A fresh loop for a run consumed from sync code (uvloop if asked for)."""
        name = self.event_loop or os.environ.get("PYPELN_EVENT_LOOP") or "asyncio"
        if check_event_loop("$PYPELN_EVENT_LOOP", name) == "uvloop":
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
        return asyncio.new_event_loop()

    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        return consume(partial(TaskRun, self, stage, maxsize, stats))

    async def aiterate(
        self, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> AsyncGenerator[Element, None]:
        """The elements of a run in the running loop; closing the iterator stops the run."""
        run = TaskRun(self, stage, maxsize, stats)
        if stats.stop is not None:  # another thread may stop the run (RunIterator.close)
            stats.stop.attach(run.fail)
        stall: StallWatch | None = None
        watched = register_stages(run)
        try:
            after = stall_after()  # a bad setting fails before any worker starts
            run.launch(asyncio.get_running_loop())
            stall = watch_run(run, after)
            stall.start()
            output, reorder = run.output, in_order(run)
            limit, returned = reader_batch(output.maxsize, 1), 0
            while True:
                try:
                    batch = await output.aget_batch(limit, returned)
                except Stopped:
                    break
                if not batch:
                    if reorder is not None:
                        for element in reorder.finish():
                            yield element
                    break
                returned = len(batch)  # handed back once the caller took them all
                for element in batch if reorder is None else reorder.add_all(batch):
                    yield element
            run.raise_error()
        finally:
            if stall is not None:
                stall.close()
            stats.unwatch(watched)  # before the run closes its channels
            await run.shutdown()
            stats.end()


def runs_in_loop(node: Node) -> bool:
    """Whether a node's workers are tasks (else threads: they may block)."""
    source = node.source
    if isinstance(source, Stage):  # a stage of another backend: in the loop if it can be
        # (what this run relays to it is read by blocking: then in a thread)
        return source.backend.async_workers and not node.relays
    if node.stage is None:
        return isinstance(source, AsyncIterable) or type(source) in IN_MEMORY
    if node.stage.kind == "batch":  # it reads with a timeout, as threads do
        return False
    return node.stage.f is None or is_async_callable(node.stage.f)


class TaskRun(LocalRun[LoopChannel]):
    """One run of a plan: its channels, tasks, threads, first error and stop signal."""

    def __init__(
        self, backend: TaskBackend, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> None:
        super().__init__(backend, stage, maxsize, stats, LoopChannel)
        self.backend = backend
        self._tasks: list[asyncio.Task[None]] = []
        self._began: list[asyncio.Task[Any]] = []  # tasks that took their first step
        self._threads_running = 0
        self._launched = False
        self._lock = threading.Lock()  # guards the count of running threads
        self._threads_ended: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._closing: asyncio.Future[None] | None = None

    # -- the WorkerContext of threads and the TaskContext of tasks -------------------------

    def began(self, task: asyncio.Task[Any]) -> None:
        self._began.append(task)

    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop everything (from any thread): tasks are cancelled."""
        super().fail(error)
        self._in_loop(self._halt)

    # -- starting, in the loop ---------------------------------------------------------------

    def launch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start every worker: tasks in ``loop`` (the calling thread's), threads beside it."""
        self._loop = loop
        self._threads_ended = loop.create_future()
        for channel in self._channels:
            channel.bind(loop)
        for node in self.plan.nodes:
            if runs_in_loop(node):
                for index in range(node.workers):
                    task = loop.create_task(run_task_worker(node, index, self))
                    self._tasks.append(task)
                    self._workers[id(node), index] = task
                continue
            threaded = _bridged(node, loop)
            self.same_node(threaded, node)
            for index in range(node.workers):
                self._workers[id(node), index] = self._start_thread(threaded, index)
        with self._lock:  # threads ended before the last one started count only now
            self._launched = True
            ended = self._threads_running == 0
        if ended:
            resolve(self._threads_ended)

    def _start_thread(self, node: Node, index: int) -> threading.Thread:
        thread = threading.Thread(
            target=self._thread_main,
            args=(node, index),
            name=f"pypeln {node.name} #{index}",
            daemon=True,
        )
        with self._lock:
            self._threads_running += 1
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads_running -= 1
            raise
        self._threads.append(thread)
        return thread

    def _thread_main(self, node: Node, index: int) -> None:
        try:
            run_worker(node, index, self)
        finally:
            with self._lock:
                self._threads_running -= 1
                last = self._launched and self._threads_running == 0
            if last:
                self._in_loop(self._threads_done)

    def _threads_done(self) -> None:
        if self._threads_ended is not None:
            resolve(self._threads_ended)

    # -- stopping ----------------------------------------------------------------------------

    def _in_loop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the run's loop, from whichever thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _running_loop() is loop:
            callback()
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # closed meanwhile: nothing is left to stop
            pass

    def _halt(self) -> None:
        """Cancel every task that runs and wake every waiting one (in the loop)."""
        for task in self._began:
            task.cancel()
        for channel in self._channels:
            channel.wake_all()

    async def shutdown(self) -> None:
        """Stop every worker; wait (a bounded time) for tasks and threads to end."""
        self.stop.set()
        self._halt()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_GRACE / 2)
            self._halt()  # workers that began since, and wait in user code
            await asyncio.wait(self._tasks, timeout=STOP_GRACE / 2)
        if self._threads_ended is not None:
            await asyncio.wait([self._threads_ended], timeout=STOP_GRACE)
        join_threads(self._threads, 0.1)  # ended, or stuck in user code: left behind

    # -- the Run protocol, for a consumer in sync code -----------------------------------------

    def start(self) -> None:
        """Run the loop in a helper thread; return once every worker started."""
        started = threading.Event()
        self._loop_thread = threading.Thread(
            target=self._serve, args=(started,), name="pypeln task loop", daemon=True
        )
        self._loop_thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        try:
            loop = self.backend.new_loop()
        except BaseException as error:  # a bad $PYPELN_EVENT_LOOP, no descriptors left
            self.fail(error)
            started.set()
            return
        try:
            self._closing = loop.create_future()
            try:
                self.launch(loop)
            except BaseException as error:  # e.g. no thread could be started
                self.fail(error)
            started.set()
            loop.run_until_complete(self._closing)
            loop.run_until_complete(self.shutdown())
        except BaseException as error:
            self.fail(error)
        finally:
            started.set()
            _close_loop(loop)

    def close(self) -> None:
        """Stop the run and wait (a bounded time) for its loop thread to end."""
        self.stop.set()
        closing = self._closing
        if closing is not None:
            self._in_loop(partial(resolve, closing))
        if self._loop_thread is not None:
            self._loop_thread.join(3 * STOP_GRACE)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """End what is left in ``loop`` (tasks of user code), then close it."""
    try:
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left, timeout=STOP_GRACE))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def _bridged(node: Node, loop: asyncio.AbstractEventLoop) -> Node:
    """``node`` for a worker thread: what ``f`` or a hook returns awaitable is run in ``loop``."""
    stage = node.stage
    if stage is None:
        return node
    hooks: dict[str, Any] = {
        name: _awaiting_in(getattr(stage, name), loop)
        for name in ("f", "on_start", "on_done", "on_error")
        if callable(getattr(stage, name))
    }
    return dataclasses.replace(node, stage=dataclasses.replace(stage, **hooks))


def _awaiting_in(fn: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if is_awaitable(result):
            return asyncio.run_coroutine_threadsafe(resolved(result), loop).result()
        return result

    return call
