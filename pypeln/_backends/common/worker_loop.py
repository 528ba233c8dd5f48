"""The blocking worker loop, shared by every backend whose workers block (threads, processes).

Data flow of one stage worker::

    inbox.get_batch(n) ──► kernel(call, elements) ──► pending ──► outbox.put_from(pending)
         ▲   n adapts: 1 at first, then as many items as take ~1 ms      (each outbox: broadcast)
         └── before waiting for more input, whatever is pending is flushed downstream

How items are batched, and how batches keep within ``maxsize``: ``batching``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..._errors import Stopped, mark_stage
from ..._pipeline.plan import Node
from ..._pipeline.relay import relayed
from ..._pipeline.sources import elements_of
from ..._pipeline.stage import Stage, close_iterator
from ..._worker.activity import WorkerActivity
from ..._worker.counters import Counters
from ..._worker.flow import clock, meter_batch, meter_end, meter_start, meter_wait
from ..._worker.kernels import Element, batch_elements
from ..._worker.order import kernel_for
from ..._worker.policies.keys import destination_of
from ..._worker.session import WorkerSession
from ..contract import NOTHING_YET, ChannelReader, ChannelWriter, WorkerContext
from .batching import BatchSizer, OutputBatches, reader_batch


def run_worker(node: Node, index: int, context: WorkerContext) -> None:
    """Body of one worker of ``node``: never raises, reports its first error to the run."""
    # One writer per channel, even for a channel listed twice (it gets every item twice).
    writers = {channel: context.writer(channel) for channel in dict.fromkeys(node.outboxes)}
    outboxes = [writers[channel] for channel in node.outboxes]
    try:
        if node.stage is None:
            assert node.source is not None
            source = node.source
            if node.relays:  # a stage of another backend, reading what this run computes
                assert isinstance(source, Stage)
                source = relayed(source, node.relays, context.reader)
            # Unlabelled: the except clause below names this source on any error.
            elements = elements_of(source, node.name, context.statistics, labelled=False)
            _pump(elements, outboxes)
        elif node.stage.kind == "route":
            _route(node, context, outboxes)
        else:
            _work(node, index, context, outboxes)
        for outbox in writers.values():
            outbox.close()
    except Stopped:
        pass
    except BaseException as error:
        # A source and a router (one per stage) are no stage's numbered worker.
        worker = index if node.stage is not None and node.stage.kind != "route" else None
        mark_stage(error, node.name, worker)
        context.fail(error)


def _work(node: Node, index: int, context: WorkerContext, outboxes: list[ChannelWriter]) -> None:
    stage = node.stage
    assert stage is not None and node.inbox is not None
    counters = context.counters(node, index)
    meter_start(counters)
    outputs: list[_Output] = []
    wait = context.pause

    def pause(seconds: float) -> None:
        # What the worker made so far goes on before it waits to call again (a retry).
        for output in outputs:
            output.pause()
        assert wait is not None
        wait(seconds)

    status = context.status(node)
    session = WorkerSession(
        stage,
        index,
        status,
        counters,
        context.deadline,
        pause if wait is not None else None,
        context.limiter(node),
    )
    try:
        call = session.open()
        with _Output(outboxes, context.max_batch, counters) as output:
            outputs.append(output)
            inbox = context.reader(node.inbox_of(index))
            activity = context.activity(node, index)
            if stage.kind == "batch":  # it reads with a timeout: not through _inputs
                taker = _Taker(inbox, output, activity, counters)
                try:
                    output.drain(batch_elements(taker.take, stage.batch_size, stage.batch_wait))
                finally:
                    taker.leave()
            else:
                inputs = _inputs(inbox, node.workers, output, activity, counters)
                kernel = kernel_for(stage.kind, marks=node.marks, streams=node.streams)
                output.drain(kernel(call, inputs))
    except BaseException:
        session.close_quietly()
        meter_end(counters)
        raise
    session.close()
    meter_end(counters)


def _route(node: Node, context: WorkerContext, outboxes: list[ChannelWriter]) -> None:
    """The router of a stage with a ``key``: each element goes to the outbox of its worker."""
    stage = node.stage
    assert stage is not None and stage.f is not None and node.inbox is not None
    destination = destination_of(stage.f, len(outboxes), node.name)
    routed = _Routed([_Output([outbox], context.max_batch) for outbox in outboxes])
    with routed:
        inputs = _inputs(context.reader(node.inbox), 1, routed, context.activity(node, 0))
        routed.drain(inputs, destination)


def _inputs(
    inbox: ChannelReader,
    workers: int,
    output: _Output | _Routed,
    activity: WorkerActivity,
    counters: Counters | None = None,
) -> Iterator[Element]:
    """The elements of ``inbox`` for one worker, read in batches; with ``counters`` (a stage
    worker's), each batch's wait, size and time per item are noted."""
    sizer = BatchSizer(min(reader_batch(inbox.maxsize, workers), output.sizer.cap))
    returned = 0
    release = output.release if output.bounded else None  # the room we hold, if we wait
    try:
        while True:
            output.pause()  # downstream gets what we have before we may wait for more
            done, returned = returned, 0
            activity.waiting()
            began = clock()
            batch = inbox.get_batch(sizer.size, done, release)
            if counters is not None:
                mark = meter_wait(counters, began, len(batch))
            if not batch:
                return
            returned = len(batch)
            output.resume()
            sizer.begin()
            yield from activity.working_on(batch)
            sizer.end(len(batch))
            if counters is not None:
                meter_batch(counters, mark, len(batch))
    finally:  # leaving mid-batch (a process worker replaced after a timeout): room is free
        if returned:
            inbox.give_back(returned)


class _Taker:
    """``take`` for ``batch_elements``: ``_inputs``'s reading, one ``get_batch`` at a time
    and with a timeout."""

    def __init__(
        self, inbox: ChannelReader, output: _Output, activity: WorkerActivity, counters: Counters
    ) -> None:
        self._inbox = inbox
        self._output = output
        self._activity = activity
        self._counters = counters
        self._release = output.release if output.bounded else None
        self._returned = 0  # the size of the last batch, whose room is given back next time

    def take(self, timeout: float | None, limit: int) -> list[Element] | None:
        output = self._output
        output.pause()  # downstream gets what we have before we may wait for more
        done, self._returned = self._returned, 0
        self._activity.waiting()
        began = clock()
        batch = self._inbox.get_batch(limit, done, self._release, timeout)
        meter_wait(self._counters, began, 0 if batch is NOTHING_YET else len(batch))
        if batch is NOTHING_YET:
            return None
        self._returned = len(batch)
        if batch:
            output.resume()
            self._activity.working_on(batch)
        return batch

    def leave(self) -> None:
        """The worker is done reading (at the end, or early): its last batch's room is free."""
        if self._returned:
            self._inbox.give_back(self._returned)
            self._returned = 0


def _pump(elements: Iterator[Element], outboxes: list[ChannelWriter]) -> None:
    """Move a source's elements downstream in batches that grow while the source is fast."""
    try:
        _pump_batches(elements, outboxes)
    finally:  # a stage of another backend ends its own run now, not when collected
        close_iterator(elements)


def _pump_batches(elements: Iterator[Element], outboxes: list[ChannelWriter]) -> None:
    # Item by item into the shared batch: a source that turns slow after a fast burst never
    # holds read items back from a waiting reader.
    with _Output(outboxes) as output:
        output.drain(elements)


class _Output(OutputBatches):
    """The blocking loop's output: ``OutputBatches`` handed on with ``put_from``."""

    def __enter__(self) -> _Output:
        super().__enter__()
        return self

    def drain(self, elements: Iterable[Element]) -> None:
        """Batch every element; flush when the batch is full or a reader waits, and at the end."""
        if len(self._targets) == 1:
            append: Callable[[Element], None] = self._targets[0].append
            watch: ChannelWriter | _AnyOf = self.outboxes[0]
        else:
            append, watch = self._broadcast, _AnyOf(self.outboxes)
        if self.bounded:
            self._drain_bounded(elements, append, watch)
            return
        sizer, batched = self.sizer, 0
        size = sizer.size
        for element in elements:
            append(element)
            batched += 1
            if batched >= size or watch.hungry:
                self._held = batched  # counted at the hand-on (the bounded path counts live)
                self.flush()
                batched, size = 0, sizer.size
        self._held = batched
        self.flush()

    def _drain_bounded(
        self, elements: Iterable[Element], append: Callable[[Element], None], watch: Any
    ) -> None:
        # The count and limit live on self: the input's pause, release and resume change them.
        for element in elements:
            append(element)
            self._held += 1
            if self._held >= self._limit or watch.hungry:
                self.flush()
        self.pause()
        self.release()

    def add(self, element: Element) -> None:
        """``drain`` one element at a time (a single outbox): batch it, flush when the batch
        is full or a reader waits."""
        self._targets[0].append(element)
        self._held += 1
        if self._held >= self._limit or self.outboxes[0].hungry:
            self.flush()

    def flush(self) -> None:
        """Hand on what is held; reserve room for the next batch."""
        self._hand_on(more=True)

    def pause(self) -> None:
        """Hand on what is held: the worker asks for input next (the room it holds stays,
        unless it has to wait: ``release``)."""
        self._hand_on(more=False)

    def _hand_on(self, more: bool) -> None:
        steps = self._hand_on_steps(more)
        try:
            outbox, pending, reserve = next(steps)
        except StopIteration:
            return  # nothing to hand on, nor room to reserve: nothing to time either
        began = clock()
        try:
            while True:
                outbox, pending, reserve = steps.send(outbox.put_from(pending, reserve))
        except StopIteration:
            pass
        if self.counters is not None:
            self.counters.blocked_ns += clock() - began

    def _broadcast(self, element: Element) -> None:
        for pending in self._targets:
            pending.append(element)


class _Routed:
    """A router's output: one ``_Output`` per worker of the keyed stage, each element added
    to the one its key picks; flushed, paused and released together."""

    def __init__(self, outputs: list[_Output]) -> None:
        self._outputs = outputs
        self.bounded = any(output.bounded for output in outputs)
        self.sizer = min((output.sizer for output in outputs), key=lambda sizer: sizer.cap)

    def __enter__(self) -> _Routed:
        for output in self._outputs:
            output.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for output in self._outputs:
            output.__exit__()

    def drain(self, elements: Iterable[Element], destination: Callable[[Element], int]) -> None:
        """Add every element to its worker's output; at the end, hand on what is held."""
        outputs = self._outputs
        for element in elements:
            outputs[destination(element)].add(element)
        self.pause()
        self.release()

    def pause(self) -> None:
        for output in self._outputs:
            output.pause()

    def release(self) -> None:
        for output in self._outputs:
            if output.bounded:
                output.release()

    def resume(self) -> None:
        for output in self._outputs:
            output.resume()


class _AnyOf:
    """Several outboxes (broadcast) seen as one: hungry when any reader waits."""

    def __init__(self, outboxes: list[ChannelWriter]) -> None:
        self._outboxes = outboxes

    @property
    def hungry(self) -> int:
        return sum(outbox.hungry for outbox in self._outboxes)
