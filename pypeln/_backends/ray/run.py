"""``RayRun``: one run of a plan whose stage workers are Ray actors (see the package docstring).

Channels live in the driver (``ThreadChannel``). Between two stages of actors, a channel
without a bound the user gave carries each call's results as a reference (``Results``):
the next actor reads them from Ray, and the driver does not unpickle them; its automatic
bound counts calls (``REF_CALLS``). A bound the user gave counts items, so such a channel,
or one into a stage whose output has one, carries the items. Each actor has a
thread in the driver that
feeds it batches from its stage's channel, keeps ``IN_FLIGHT`` batches queued at the actor
so that it never idles between calls, and hands its results on. Sources and the stages
that run no function of the user's (``concat``, ``ordered``) run in driver threads with
the shared worker loop.

Stopping: every wait on a channel ends on the run's stop signal, and a call to an actor
ends when the actor is killed; an actor busy in a call is waited for ``STOP_GRACE``
seconds (it runs ``on_done`` after its call), then killed, and so is every actor of the
run when ``close()`` returns.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from ..._errors import Stopped, WorkerCrashedError, mark_stage
from ..._pipeline.plan import Node, Plan
from ..._pipeline.stage import Stage
from ..._worker.counters import DROPS, RunStatistics, note_call
from ..._worker.flow import clock, meter_end, meter_start, meter_wait
from ..._worker.kernels import Element
from ..common.batching import batch_cap
from ..common.consumer import join_threads
from ..common.local_run import LocalRun
from ..common.stall import run_report
from ..common.thread_channel import ThreadChannel
from ..common.worker_loop import run_worker
from ..contract import Backend, ChannelStatistics
from ..remote.errors import unpack_error
from .actor import Report, StageWorker, stage_payload
from .rate import keeper
from .resources import check_placement, options_of
from .values import pack, unpack

#: Batches queued at an actor beyond the one it works on.
IN_FLIGHT = 2
#: The automatic bound of a channel between two stages of actors, in calls' results.
REF_CALLS = 4 * (IN_FLIGHT + 1)
#: How long stopping waits for actors busy in a call (then ``on_done``) before killing them.
STOP_GRACE = 1.0

#: How long closing waits for Ray to record the killed actors as dead.
KILL_WAIT = 10.0
#: How long the stall report waits for an actor to say where it is.
DUMP_WAIT = 1.0
#: How long a call may hold results back from a waiting reader before it is asked for them.
LINGER = 0.02

_remote: Any = ray.remote  # its stubs lack the options of threaded actors
_RemoteWorker: Any = _remote(concurrency_groups={"poke": 1})(StageWorker)


class RayRun(LocalRun[ThreadChannel]):
    """One run: actors for the stages with a function, driver threads for the rest."""

    def __init__(
        self,
        backend: Backend,
        stage: Stage[Any],
        maxsize: int,
        stats: RunStatistics,
    ) -> None:
        super().__init__(backend, stage, maxsize, stats, ThreadChannel)
        self.deadline = None  # timeouts are kept inside the actors
        self._actors: list[Any] = []
        self._keepers: list[Any] = []  # the actors that keep the turns of stages with a rate
        self._actor_of: dict[tuple[int, int], Any] = {}  # by (id(node), index)
        # The channels that carry ``Results`` (see ``_between_actors``); under the automatic
        # bound each holds ``REF_CALLS`` calls' results, so that a stalled consumer stops the
        # actors a few batches ahead, as elsewhere.
        self._ref_channels = _between_actors(self.plan)
        for channel in self._ref_channels:
            spec = self.plan.channels[channel]
            if spec.automatic:
                self._channels[channel] = ThreadChannel(
                    REF_CALLS, spec.producers, spec.readers, self.stop
                )
        self._busy = 0  # driver threads of actors still running
        self._idle = threading.Condition()

    def start(self) -> None:
        acting = [node for node in self.plan.nodes if _acts(node)]
        check_placement(acting)
        authkey = bytes(multiprocessing.current_process().authkey)
        for node in self.plan.nodes:
            if not _acts(node):
                for index in range(node.workers):
                    self.start_thread(run_worker, node, index, self)
                continue
            assert node.stage is not None
            payload = stage_payload(node.stage)
            rate = node.stage.rate
            turns = None
            if rate:
                turns = keeper(rate, node.workers)
                self._keepers.append(turns)
            for index in range(node.workers):
                actor = _RemoteWorker.options(**options_of(node).actor()).remote(
                    payload, index, authkey, sys.path, turns, node.marks
                )
                self._actors.append(actor)
                self._actor_of[id(node), index] = actor
                with self._idle:
                    self._busy += 1
                self.start_thread(self._drive, node, index, actor)

    # -- one actor's driver thread -------------------------------------------------------------

    def _drive(self, node: Node, index: int, actor: Any) -> None:
        """Feed worker ``index`` of ``node`` its batches and hand its results on."""
        try:
            self._feed(node, index, actor)
        except Stopped:
            pass
        except RayActorError as died:
            if not self.stop.is_set:  # not killed by us: it crashed
                self.fail(WorkerCrashedError(node.name, index, None, cause=_died(died)))
        except BaseException as error:
            mark_stage(error, node.name, index)
            self.fail(error)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _feed(self, node: Node, index: int, actor: Any) -> None:
        """Run the actor's ``on_start``, its batches, then its ``on_done`` (also when the
        run stops or fails: quietly then, the first error wins)."""
        status = self.status(node)
        try:
            _raise(ray.get(actor.start.remote()))
            writers = self._batches(node, index, actor)
        except BaseException:
            finished = status.finish()
            try:
                ray.get(actor.finish.remote(finished.workers, finished.active_workers))
            except BaseException:
                pass
            raise
        finished = status.finish()
        _raise(ray.get(actor.finish.remote(finished.workers, finished.active_workers)))
        for writer in writers:  # downstream sees the end once on_done ran, as on threads
            writer.close()

    def _batches(self, node: Node, index: int, actor: Any) -> list[ThreadChannel]:
        """Feed the actor every batch of its input and hand on its results; the writers.

        Under a bound downstream, a batch is no larger than the room the worker could
        reserve there (at least one item), and goes alone: results never run ahead of
        ``maxsize``. Unbounded, the single worker of a stage keeps ``IN_FLIGHT`` batches
        waiting at its actor as it works. Into a channel between actors (``_passes_refs``),
        results go as ``Results`` that the driver does not read.
        """
        inbox = self.reader(node.inbox_of(index))
        reads_results = node.inbox_of(index) in self._ref_channels
        writers = {channel: self.writer(channel) for channel in dict.fromkeys(node.outboxes)}
        passes = {channel: channel in self._ref_channels for channel in writers}
        copies = {channel: node.outboxes.count(channel) for channel in writers}
        held = {channel: deque[Any]() for channel in writers}  # room is reserved for these
        reads_values = not all(passes.values())  # the driver needs the results' values
        counters = self.counters(node, index)
        bounded = any(_bound_given(self.plan, channel) for channel in writers)
        # A worker with batches queued at its actor would take items its stage's idle
        # workers are waiting for: only a stage's single worker queues ahead (and not
        # under a bound the user gave, which its results would run ahead of).
        depth = IN_FLIGHT if node.workers == 1 and not bounded else 0
        cap = batch_cap(inbox.maxsize, node.workers)
        sent: deque[tuple[Any, Any, int, int]] = deque()  # report, results, size, number
        numbers = itertools.count()

        def room() -> int:
            """How many results may come without waiting (room reserved downstream)."""
            allowed = cap
            for channel, writer in writers.items():
                if writer.maxsize:
                    granted = writer.reserve(held[channel], cap * copies[channel])
                    allowed = min(allowed, granted // copies[channel])
            return max(1, allowed)

        def hand_on(results: Results) -> None:
            # Every outbox gets what fits now before any put may wait, and room held beyond
            # these items goes back first: while this thread waits for room in one outbox,
            # no reader of another waits for items it holds (what did not fit, its readers
            # take from the shared pending once they ask), and no room is sat on.
            if not results.count:
                return
            began = clock()
            counters.emitted += results.count
            values = results.values() if reads_values else []
            for channel, writer in writers.items():
                for _ in range(copies[channel]):
                    if passes[channel]:
                        held[channel].append(results)
                    else:
                        held[channel].extend(values)
                writer.release(held[channel])
                writer.put_available(held[channel])
            for channel, writer in writers.items():
                writer.put_from(held[channel])
            counters.blocked_ns += clock() - began

        def hand_on_one() -> None:
            report_ref, results_ref, size, number = sent[0]
            # A reader that waits while the call is busy in user code gets what it made so
            # far: asked after LINGER seconds, then every LINGER seconds (a poll, only then).
            while True:
                try:
                    report: Report = ray.get(report_ref, timeout=LINGER)
                    break
                except GetTimeoutError:
                    if self.stop.is_set:
                        raise Stopped from None
                    if any(writer.hungry for writer in writers.values()):
                        hand_on(Results(*ray.get(actor.take_held.remote(number))))
            sent.popleft()
            count, packed, counts, spent = report
            for name, value in zip(DROPS, counts, strict=True):
                setattr(counters, name, value)
            if size:
                note_call(counters, spent // size)
            inbox.give_back(size)
            hand_on(Results(count, results_ref))
            _raise(packed)

        finishing = [0]  # nanoseconds of the last get_batch spent on calls (not waiting)

        def before_waiting() -> None:  # nothing is held back, and no room is sat on
            began = clock()
            while sent:
                hand_on_one()
            for channel, writer in writers.items():
                writer.release(held[channel])
            finishing[0] = clock() - began

        for channel, writer in writers.items():
            writer.share(held[channel])
        meter_start(counters)
        try:
            while True:
                began, finishing[0] = clock(), 0
                batch = inbox.get_batch(room(), 0, before_waiting)
                # Between actors, a batch holds calls' results: it counts their items.
                items = sum(part.count for part in batch) if reads_results else len(batch)
                meter_wait(counters, began + finishing[0], items)
                if not batch:
                    break
                if reads_results:
                    parts = [part.data for part in batch]
                else:
                    parts = [pack(batch, f"an item sent to stage {node.name!r}")]
                number = next(numbers)
                sent.append((*actor.work.remote(number, *parts), len(batch), number))
                if len(sent) > depth:
                    hand_on_one()
            before_waiting()
        finally:
            meter_end(counters)
            for channel, writer in writers.items():
                writer.unshare(held[channel])
        return list(writers.values())

    # -- where it is ----------------------------------------------------------------------------

    def stall_report(self, channels: Sequence[ChannelStatistics]) -> str:
        """Each stage's fill; each actor's own stacks (asked beside its call), each driver
        thread's stack."""
        asked = {key: actor.where.remote() for key, actor in self._actor_of.items()}

        def state(node: Node, index: int) -> str | None:
            where = asked.get((id(node), index))
            if where is None:
                return self._worker_state(node, index)
            try:
                text: str = ray.get(where, timeout=DUMP_WAIT)
            except Exception as error:  # ended meanwhile, or too slow to answer
                return f"(its actor did not answer: {type(error).__name__})"
            return text

        return run_report(self.plan.nodes, channels, state)

    # -- stopping ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the run; give busy actors ``STOP_GRACE`` seconds, then kill every actor."""
        self.stop.set()
        for actor in self._actors:  # calls waiting out a timeout end now (on_done follows)
            actor.stop.remote()
        deadline = time.monotonic() + STOP_GRACE
        with self._idle:
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
        every = self._actors + self._keepers
        for actor in every:
            ray.kill(actor, no_restart=True)  # a busy one's driver thread then wakes
        # A kill is only asked for: a call to each actor fails once Ray records it dead,
        # and then none of the run's actors is alive by Ray's own record either.
        probes = [actor.__ray_ready__.remote() for actor in every]
        ray.wait(probes, num_returns=len(probes), timeout=KILL_WAIT)
        self._actors.clear()
        self._keepers.clear()
        self._actor_of.clear()
        join_threads(self._threads, STOP_GRACE)


class Results:
    """The results of one actor call, in a channel between two stages of actors: ``data``
    is the call's reference (the next actor reads it from Ray, the driver never does) or,
    when taken early from a call still running, the results themselves (``Packed``)."""

    __slots__ = ("count", "data")

    def __init__(self, count: int, data: Any) -> None:
        self.count = count
        self.data = data

    def values(self) -> list[Element]:
        """The elements themselves (read from Ray if they are there)."""
        return unpack(ray.get(self.data) if isinstance(self.data, ray.ObjectRef) else self.data)


def _between_actors(plan: Plan) -> set[int]:
    """The channels whose writers and reader are all actors and that, with the reader's
    outputs, have no bound the user gave: they carry ``Results``, a reference per call, and
    not the items (a bound the user gave counts items, which the driver then has to see).
    The automatic bound of such a channel counts its references: calls, not items."""
    writes: dict[int, list[Node]] = {}
    for node in plan.nodes:
        for channel in node.outboxes:
            writes.setdefault(channel, []).append(node)
    counts_items = partial(_bound_given, plan)
    return {
        inbox
        for node in plan.nodes
        if node.inbox is not None and _acts(node)
        for inbox in node.keyed_inboxes or [node.inbox]
        if not counts_items(inbox)
        # a bounded output sizes the reader's batches in items, which it must then see
        and not any(counts_items(channel) for channel in node.outboxes)
        and all(_acts(writer) for writer in writes.get(inbox, ()))
    }


def _bound_given(plan: Plan, channel: int) -> bool:
    """Whether ``channel`` has a bound the user gave (not the automatic one, nor none)."""
    spec = plan.channels[channel]
    return spec.maxsize != 0 and not spec.automatic


def _acts(node: Node) -> bool:
    """Whether ``node``'s workers are actors: a stage that runs a function of the user's."""
    # A router (``route``) runs the stage's key function in a driver thread: one process
    # hashes every key, so equal keys meet one worker.
    return node.stage is not None and node.stage.f is not None and node.stage.kind != "route"


def _raise(packed: bytes | None) -> None:
    if packed is not None:
        raise unpack_error(packed, "the Ray actor")


def _died(error: RayActorError) -> str:
    """Why Ray says an actor died, in a line."""
    first = str(error).strip().splitlines()
    return "its Ray actor died" + (f": {first[0]}" if first else "")
