"""The async worker loop: the twin of ``common/worker_loop.py`` for workers in the loop.

Data flow of one task worker::

    await inbox.aget_batch(n) ──► async kernel ──► output.add ──► await outbox.aput_from
                                                     (flushed when full, when a reader
                                                      waits, and before waiting for input)

A worker loops over its input; no asyncio Task is created per element, except with
``workers=0``, where every element gets a task of its own (no limit on concurrent calls).
A worker or source that held the loop for a whole batch yields before the next one, so it
cannot starve the others (see ``LoopTurns``).

>>> import asyncio
>>> from pypeln._backends.common.stop_signal import StopSignal
>>> from pypeln._backends.task.channel import LoopChannel
>>> async def main():
...     channel = LoopChannel(0, 1, 1, StopSignal())
...     channel.bind(asyncio.get_running_loop())
...     output = AsyncOutput([channel])
...     with output:
...         output.add(((0,), "x"))
...         await output.flush()
...     return await channel.aget_batch(5)
>>> asyncio.run(main())
[((0,), 'x')]
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from itertools import count
from operator import itemgetter
from typing import Any, Protocol

from ..._errors import Stopped, mark_stage
from ..._pipeline.plan import Node
from ..._pipeline.stage import Stage
from ..._worker.activity import WorkerActivity
from ..._worker.async_kernels import AsyncKernel
from ..._worker.async_order import async_kernel_for
from ..._worker.async_session import AsyncDeadline, AsyncWorkerSession
from ..._worker.counters import Counters, RunStatistics
from ..._worker.flow import Mark, clock, meter_batch, meter_end, meter_start, meter_wait
from ..._worker.hooks import Call, WorkerStatus
from ..._worker.kernels import Element
from ..._worker.order import Reorder
from ..._worker.policies.rate import Limiter
from ..common.batching import MAX_BATCH, BatchSizer, OutputBatches, reader_batch
from ..common.stop_signal import StopSignal
from .channel import LoopChannel


class TaskContext(Protocol):
    """What one run gives its task workers."""

    statistics: RunStatistics
    max_batch: int
    stop: StopSignal

    def began(self, task: asyncio.Task[Any]) -> None:
        """``task`` took its first step: stopping the run cancels it from now on."""

    def reader(self, channel: int) -> LoopChannel: ...

    def writer(self, channel: int) -> LoopChannel: ...

    def status(self, node: Node) -> WorkerStatus: ...

    def activity(self, node: Node, index: int) -> WorkerActivity: ...

    def counters(self, node: Node, index: int) -> Counters: ...

    def limiter(self, node: Node) -> Limiter | None: ...

    def fail(self, error: BaseException) -> None: ...


async def run_task_worker(node: Node, index: int, context: TaskContext) -> None:
    """Body of one task worker of ``node``: never raises; reports its first error to the run."""
    # A worker is cancelled only once it runs: one stopped before its first step still runs
    # on_start and on_done (it meets the stop signal at its first wait), as on threads.
    context.began(asyncio.current_task())  # type: ignore[arg-type]
    # One writer per channel, even for a channel listed twice (it gets every item twice).
    writers = {channel: context.writer(channel) for channel in dict.fromkeys(node.outboxes)}
    outboxes = [writers[channel] for channel in node.outboxes]
    worker = index if node.stage is not None else None
    try:
        if node.stage is None:
            await _pump(node, outboxes, context.max_batch, context.statistics)
        else:
            await _work(node, index, context, outboxes)
        for outbox in writers.values():
            outbox.close()
    except Stopped:
        pass  # the run stops
    except asyncio.CancelledError as cancelled:
        if not context.stop.is_set:  # not the run's doing: f or a source raised it
            _fail_labelled(context, node.name, worker, unexpected_cancel(node.name, cancelled))
    except BaseException as error:
        _fail_labelled(context, node.name, worker, error)


def unexpected_cancel(stage: str, cancelled: BaseException) -> RuntimeError:
    """The error for a ``CancelledError`` that user code raised while the run was not stopping.

    Raised as it is, it would read as the consumer's own cancellation.
    """
    error = RuntimeError(
        f"stage {stage!r} raised CancelledError though the run was not stopping "
        "(re-raise CancelledError only when your own task is cancelled)"
    )
    error.__cause__ = cancelled
    return error


async def _work(node: Node, index: int, context: TaskContext, outboxes: list[LoopChannel]) -> None:
    stage = node.stage
    assert stage is not None and node.inbox is not None
    counters = context.counters(node, index)
    outputs: list[AsyncOutput] = []

    async def pause(seconds: float) -> None:
        # What the worker made so far goes on before it waits to call again (a retry).
        for output in outputs:
            await output.pause()
        await asyncio.sleep(seconds)

    status = context.status(node)
    limiter = context.limiter(node)
    meter_start(counters)
    session = AsyncWorkerSession(stage, index, status, counters, AsyncDeadline, pause, limiter)
    try:
        call = await session.aopen()
        with AsyncOutput(outboxes, context.max_batch, counters) as output:
            outputs.append(output)
            inbox = context.reader(node.inbox_of(index))
            batches = _Batches(inbox, node.workers, output, counters)
            if stage.kind == "ordered":
                await (_streaming_ordered if node.streams else _ordered)(batches, output)
            elif stage.workers == 0:
                kernel = async_kernel_for(stage.kind, marks=node.marks)
                await _unlimited(kernel, call, batches, output, context, node)
            else:
                kernel = async_kernel_for(stage.kind, marks=node.marks)
                activity = context.activity(node, index)
                await _each_batch(kernel, call, batches, output, activity)
            await output.pause()
            output.release()
    except BaseException:
        await session.aclose_quietly()
        meter_end(counters)
        raise
    await session.aclose()
    meter_end(counters)


class LoopTurns:
    """Whether the loop turned since a worker last looked: if not, the worker held it.

    ``checkpoint()`` yields to the loop only when nothing else ran since the last
    checkpoint, so a worker whose calls never await (or a source that never has to wait)
    hands the loop over once per batch (~1 ms of work), while one whose calls await yields
    by awaiting and pays nothing more. (Yielding after every batch regardless cost 12% on
    2,000 x sleep(10 ms) with workers=100: each worker started its next call a whole turn
    of the loop later; counting batches instead held the loop for 8 slow calls at a time.)

    >>> import asyncio
    >>> async def main():
    ...     turns = LoopTurns()
    ...     await turns.checkpoint()  # the first one never yields
    ...     await asyncio.sleep(0)  # another task could run here: no need to yield below
    ...     return await turns.checkpoint(), await turns.checkpoint()
    >>> asyncio.run(main())
    (False, True)
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._turned = True
        self._armed = False

    async def checkpoint(self) -> bool:
        """Yield unless the loop turned since the last checkpoint; True if it yielded."""
        held = not self._turned
        if held:
            await asyncio.sleep(0)
        self._turned = False
        if not self._armed:  # one callback per turn of the loop at most: no polling
            self._armed = True
            self._loop.call_soon(self._mark)
        return held

    def _mark(self) -> None:
        self._turned, self._armed = True, False


def _fail_labelled(
    context: TaskContext, stage: str, index: int | None, error: BaseException
) -> None:
    mark_stage(error, stage, index)
    context.fail(error)


class _Batches:
    """A worker's input: batches sized to ~1 ms of work, fetched after flushing the output."""

    def __init__(
        self, inbox: LoopChannel, workers: int, output: AsyncOutput, counters: Counters
    ) -> None:
        self.inbox = inbox
        self.counters = counters
        self.mark: Mark = (0, 0)  # when the last batch's work began (``meter_wait``)
        self.output = output
        cap = reader_batch(inbox.maxsize, max(1, workers))
        self.sizer = BatchSizer(min(cap, output.sizer.cap))
        self.turns = LoopTurns()
        self._returned = 0  # the size of the last batch, done with at the next
        self._release = output.release if output.bounded else None  # the room, if we wait

    async def next(self, limit: int = 0) -> list[Element]:
        """The next batch (``[]`` at the end) of ``limit`` elements at most (0: the sizer's
        size); downstream gets what we hold (and the room we hold) before we wait for it."""
        await self.output.pause()
        if not len(self.inbox):
            # Let the producers run before waiting: a reader that waits at once is "hungry",
            # and every producer would hand on its elements one by one.
            await asyncio.sleep(0)
        else:  # the get will not wait: let others run if this worker held the loop
            await self.turns.checkpoint()
        size = limit or self.sizer.size
        began = clock()
        batch = await self.inbox.aget_batch(size, self._returned, self._release)
        self.mark = meter_wait(self.counters, began, len(batch))
        self._returned = len(batch)
        self.output.resume()
        return batch


async def _each_batch(
    kernel: AsyncKernel,
    call: Call,
    batches: _Batches,
    output: AsyncOutput,
    activity: WorkerActivity,
) -> None:
    sizer = batches.sizer
    while True:
        activity.waiting()
        batch = await batches.next()
        if not batch:
            return
        sizer.begin()
        await kernel(call, activity.working_on(batch), output)
        sizer.end(len(batch))
        meter_batch(batches.counters, batches.mark, len(batch))


async def _unlimited(
    kernel: AsyncKernel,
    call: Call,
    batches: _Batches,
    output: AsyncOutput,
    context: TaskContext,
    node: Node,
) -> None:
    """``workers=0``: a task per element, as many at once as there are elements."""
    running: set[asyncio.Task[None]] = set()

    def finished(task: asyncio.Task[None]) -> None:
        running.discard(task)
        error = None if task.cancelled() else task.exception()  # retrieved: never "lost"
        if context.stop.is_set:
            return
        if task.cancelled():  # not by the run: f itself raised CancelledError
            _fail_labelled(context, node.name, 0, unexpected_cancel(node.name, CancelledError()))
        elif error is not None:
            _fail_labelled(context, node.name, 0, error)

    try:
        while batch := await batches.next(batches.sizer.cap):  # every element waiting
            for element in batch:
                task = asyncio.ensure_future(kernel(call, [element], output))
                running.add(task)
                task.add_done_callback(finished)
        while running:
            await asyncio.wait(list(running))
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(list(running))


async def _ordered(batches: _Batches, output: AsyncOutput) -> None:
    """All elements, sorted by source index once the input ended."""
    elements: list[Element] = []
    while batch := await batches.next():
        elements.extend(batch)
    elements.sort(key=itemgetter(0))
    for element in elements:
        if output.add(element):
            await output.flush()


async def _streaming_ordered(batches: _Batches, output: AsyncOutput) -> None:
    """Each element once every one before it came or is known gone (``_worker/order.py``)."""
    reorder = Reorder()
    while batch := await batches.next():
        for element in reorder.add_all(batch):
            if output.add(element):
                await output.flush()
    for element in reorder.finish():
        if output.add(element):
            await output.flush()


async def _pump(
    node: Node, outboxes: list[LoopChannel], max_batch: int, statistics: RunStatistics
) -> None:
    """A source read in the loop: an async iterable, or a list, range or other container."""
    source = node.source
    assert source is not None
    try:
        turns = LoopTurns()  # a source that never has to wait must not hold the loop
        with AsyncOutput(outboxes, max_batch) as output:
            if isinstance(source, AsyncIterable):
                async for element in _elements(source, statistics):
                    if output.add(element):
                        await output.flush()
                        await turns.checkpoint()
            else:
                for element in _numbered_sync(source):
                    if output.add(element):
                        await output.flush()
                        await turns.checkpoint()
            await output.pause()
            output.release()
    except Exception as error:
        mark_stage(error, node.name, None)
        raise


def _elements(source: AsyncIterable[Any], statistics: RunStatistics) -> AsyncIterator[Element]:
    """The elements of an async iterable; a task stage of another backend keeps its indices."""
    if isinstance(source, Stage):
        return source.backend.aiterate(source, 0, statistics)
    return _numbered(source)


async def _numbered(source: AsyncIterable[Any]) -> AsyncIterator[Element]:
    position = 0
    async for value in source:
        yield (position,), value
        position += 1


def _numbered_sync(source: Iterable[Any]) -> Iterator[Element]:
    return zip(zip(count()), source)  # noqa: B905 - count() never ends


class AsyncOutput(OutputBatches):
    """A task worker's output: ``OutputBatches`` handed on with ``aput_from``.

    ``add`` says when to flush: the batch reached the size that takes ~1 ms to produce (or
    what the room reserved in bounded outboxes allows, see ``common/batching.py``), or a
    reader waits.
    It never yields to the loop by itself: its callers do, once per batch.
    """

    def __init__(
        self,
        outboxes: list[LoopChannel],
        max_batch: int = MAX_BATCH,
        counters: Counters | None = None,
    ) -> None:
        super().__init__(outboxes, max_batch, counters)
        self._single = self.outboxes[0] if len(outboxes) == 1 else None
        self._single_pending = self.pendings[0] if len(outboxes) == 1 else deque()

    def __enter__(self) -> AsyncOutput:
        super().__enter__()
        return self

    def add(self, element: Element) -> bool:
        """Hold ``element``; True when the caller should ``await flush()`` now."""
        self._held += 1
        if self._single is not None:  # one outbox: no loop (this runs for every element)
            self._single_pending.append(element)
            return self._held >= self._limit or self._single.hungry > 0
        for pending in self._targets:
            pending.append(element)
        return self._held >= self._limit or any(outbox.hungry for outbox in self.outboxes)

    async def flush(self) -> None:
        """Hand on what is held (waiting for room if need be); reserve for the next batch."""
        await self._hand_on(more=True)

    async def pause(self) -> None:
        """Hand on what is held: the worker asks for input next (the room it holds stays,
        unless it has to wait: ``release``)."""
        await self._hand_on(more=False)

    async def _hand_on(self, more: bool) -> None:
        steps = self._hand_on_steps(more)
        try:
            outbox, pending, reserve = next(steps)
        except StopIteration:
            return  # nothing to hand on, nor room to reserve: nothing to time either
        began = clock()
        try:
            while True:
                outbox, pending, reserve = steps.send(await outbox.aput_from(pending, reserve))
        except StopIteration:
            pass
        if self.counters is not None:
            self.counters.blocked_ns += clock() - began
