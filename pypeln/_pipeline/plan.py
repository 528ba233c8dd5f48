"""Plan: a stage graph compiled into what a queue-based backend runs.

Each stage of the backend becomes a node with its workers and one input channel. A stage
feeding several consumers writes to each of their channels (broadcast); several stages
feeding one (``concat``) share it. Every channel knows how many producers feed it, so the
end of a stream is counted, not guessed. Anything outside the backend (a plain iterable, a
stage of another backend) becomes a one-worker source node.

A node read twice by one stage (``concat([s, s])``) lists that stage's channel twice in its
outboxes and sends it every item twice, but counts once among its producers: each worker
has one writer per channel and ends it once.

>>> import pypeln as pl
>>> stage = pl.thread.map(str, pl.thread.filter(bool, range(3), workers=2), workers=3)
>>> plan = compile_plan(stage, stage.backend, maxsize=0)
>>> [node.name for node in plan.nodes]
['the iterable passed to filter(bool) (range)', 'filter(bool)', 'map(str)']
>>> [(node.workers, node.inbox, node.outboxes) for node in plan.nodes]
[(1, None, [0]), (2, 0, [1]), (3, 1, [2])]
>>> [(c.producers, c.readers) for c in plan.channels]
[(1, 2), (2, 3), (3, 1)]
>>> twice = pl.thread.map(str, range(3), workers=2)
>>> plan = compile_plan(pl.thread.concat([twice, twice]), twice.backend, maxsize=0)
>>> plan.nodes[1].outboxes, plan.channels[1].producers
([1, 1], 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from dataclasses import dataclass, field
from typing import Any

from .._backends.contract import Backend
from .relay import reads_of, shared_reads
from .sources import source_name
from .stage import Stage, function_name

#: The bound of a stage's input queue when its ``maxsize`` is None (the default): large
#: enough that batches of items move between workers as they would without a bound (the
#: throughput of the trivial pipelines stays that of ``maxsize=0``), small enough that a
#: consumer that stops lets each stage run only a few thousand items ahead.
AUTOMATIC_MAXSIZE = 2048
#: ... and per worker, for stages with many workers (each takes batches of its share).
AUTOMATIC_MAXSIZE_PER_WORKER = 64


def bound_of(stage: Stage[Any]) -> int:
    """The bound of ``stage``'s input queue, in items (0: none).

    >>> import pypeln as pl
    >>> [bound_of(pl.thread.map(abs, [], workers=w, maxsize=m)) for w, m in [(1, 8), (1, 0)]]
    [8, 0]
    >>> bound_of(pl.thread.map(abs, [])), bound_of(pl.thread.map(abs, [], workers=100))
    (2048, 6400)
    """
    if stage.maxsize is not None:
        return stage.maxsize
    return max(AUTOMATIC_MAXSIZE, AUTOMATIC_MAXSIZE_PER_WORKER * stage.workers)


@dataclass
class ChannelSpec:
    """A bounded channel: ``maxsize`` items at most (0: unbounded)."""

    maxsize: int
    producers: int = 0
    readers: int = 1
    #: Its bound is the automatic one (no ``maxsize`` given): a backend may carry something
    #: else than items there, and count it instead (``ray``: one reference per call).
    automatic: bool = False


@dataclass
class Node:
    """One stage (or outside source) of the plan and the channels it reads and writes."""

    name: str
    workers: int
    stage: Stage[Any] | None = None  # None: a source node reading ``source``
    source: Iterable[Any] | None = None
    inbox: int | None = None
    #: The channels it writes to, in order; one listed twice gets every item twice.
    outboxes: list[int] = field(default_factory=list)
    maxsize: int = 0  # a source's own bound on what it may have waiting downstream
    #: Its stage feeds a streaming ``ordered``: its kernel reports what it drops (markers).
    marks: bool = False
    #: An ``ordered`` that streams: what it reads says which items are gone.
    streams: bool = False
    #: A stage with a ``key``: worker ``i`` reads channel ``keyed_inboxes[i]`` alone (fed by
    #: the ``route`` node before it); ``inbox`` is the first of them.
    keyed_inboxes: list[int] = field(default_factory=list)
    #: A source that is a stage of another backend: what its graph reads that this run
    #: computes, by ``id``, and the channel that relays it (``relay.py``).
    relays: dict[int, int] = field(default_factory=dict)

    def inbox_of(self, index: int) -> int:
        """The channel worker ``index`` reads."""
        assert self.inbox is not None
        return self.keyed_inboxes[index] if self.keyed_inboxes else self.inbox

    def reads(self, channel: int) -> bool:
        """Whether a worker of this node reads ``channel``."""
        return (
            channel == self.inbox
            or channel in self.keyed_inboxes
            or channel in self.relays.values()
        )


@dataclass
class Plan:
    """Nodes in an order where every node comes after the nodes feeding it."""

    nodes: list[Node]
    channels: list[ChannelSpec]
    output: int
    #: The last stage is a streaming ``ordered``, left to the consumer: it puts what it
    #: reads back in order (``Reorder``), one hop less than a stage of its own.
    reorders: bool = False


def compile_plan(stage: Stage[Any], backend: Backend, maxsize: int) -> Plan:
    """Compile the graph that ends in ``stage``; the consumer's channel holds ``maxsize``.

    >>> import pypeln as pl
    >>> stage = pl.thread.map(abs, range(3), ordered=True)
    >>> plan = compile_plan(stage, stage.backend, 0)
    >>> [node.name for node in plan.nodes], plan.reorders, plan.nodes[-1].marks
    (['the iterable passed to map(abs) (range)', 'map(abs)'], True, True)
    """
    builder = _Builder(backend)
    last = builder.visit(stage)
    own_bound = bound_of(stage) if backend.runs_with(stage.backend) else 0
    output = builder.channel(maxsize or own_bound, readers=1)
    builder.channels[output].automatic = not maxsize and stage.maxsize is None
    builder.connect(last, output)
    builder.relay()
    mark_streams(builder.nodes)
    plan = Plan(builder.nodes, builder.channels, output)
    last_made = output == len(plan.channels) - 1  # no relay channel after it
    if last.streams and last.outboxes == [output] and last.workers == 1 and last_made:
        _leave_order_to_consumer(plan, last, maxsize)
    return plan


def _leave_order_to_consumer(plan: Plan, ordered: Node, maxsize: int) -> None:
    """Drop the last node, a streaming ``ordered``: the consumer reads its input channel
    and reorders it (``Plan.reorders``), with the consumer's bound if it has one."""
    assert ordered.inbox is not None
    if maxsize:
        inbox = plan.channels[ordered.inbox]
        inbox.maxsize, inbox.automatic = maxsize, False
    plan.channels.pop()  # the output channel: the last one made
    plan.nodes.remove(ordered)
    plan.output, plan.reorders = ordered.inbox, True


#: What the stages between a source and a streaming ``ordered`` may be.
STREAMING_KINDS = frozenset({"map", "filter", "flat_map"})


def mark_streams(nodes: list[Node]) -> None:
    """Make every ``ordered`` stream that reads one lane: a chain of ``map``, ``filter`` and
    ``flat_map`` (each read by the next alone) from a plain iterable, whose every index
    comes. Its chain's stages then report what they drop (``Node.marks``). An ``ordered``
    after ``concat``, a fan-out or another backend's stage waits for its whole input.
    """
    producers: dict[int, list[Node]] = {}
    for node in nodes:
        for channel in set(node.outboxes):
            producers.setdefault(channel, []).append(node)
    for node in nodes:
        if node.stage is None or node.stage.kind != "ordered":
            continue
        chain = _lane(node, producers)
        if chain is not None:
            node.streams = True
            for member in chain:
                member.marks = True


#: The stages that hand on, for each item they take, one item (or drop it on error).
ONE_FOR_ONE = frozenset({"map", "each", "ordered", "route", "from_iterable"})


def expected_items(stage: Stage[Any]) -> int | None:
    """How many items ``stage`` will take, where the length of its sources says so (for a
    progress bar's total); None if that is not known.

    >>> import pypeln as pl
    >>> evens = pl.thread.filter(bool, range(4))
    >>> expected_items(pl.thread.map(str, range(4))), expected_items(pl.thread.map(str, evens))
    (4, None)
    """
    total = 0
    for upstream in stage.upstreams:
        if isinstance(upstream, Stage):
            if upstream.kind not in ONE_FOR_ONE:
                return None
            count = expected_items(upstream)
        else:
            count = len(upstream) if isinstance(upstream, Sized) else None
        if count is None:
            return None
        total += count
    return total


def expected_out(stage: Stage[Any]) -> int | None:
    """How many items ``stage`` will hand on (``each``: take), where that is known.

    >>> import pypeln as pl
    >>> expected_out(pl.thread.map(str, range(4))), expected_out(pl.thread.filter(bool, range(4)))
    (4, None)
    """
    return expected_items(stage) if stage.kind in ONE_FOR_ONE else None


def router_label(stage: Stage[Any]) -> str:
    """How errors and reports call the router of a stage with a ``key``.

    >>> import pypeln as pl
    >>> router_label(pl.thread.map(abs, [], workers=2, key=str))
    'map(abs) key=str'
    """
    return f"{stage.name} key={function_name(stage.key)}"


def in_source_order(stage: Stage[Any], backend: Backend) -> bool:
    """Whether ``stage``'s input comes in source order on a backend that runs one element
    at a time through its stages (``sync``): a chain of ``map``, ``filter`` and
    ``flat_map`` of ``backend`` from a plain iterable."""
    upstreams = stage.upstreams
    while len(upstreams) == 1:
        upstream = upstreams[0]
        if not isinstance(upstream, Stage):
            return True
        if not backend.runs_with(upstream.backend):
            return False
        if upstream.kind == "from_iterable":
            return not isinstance(upstream.upstreams[0], Stage)
        if upstream.kind not in STREAMING_KINDS:
            return False
        upstreams = upstream.upstreams
    return False


def _lane(ordered: Node, producers: dict[int, list[Node]]) -> list[Node] | None:
    """The stages of the one lane that feeds ``ordered``, or None if it is not one."""
    chain: list[Node] = []
    current = ordered
    while True:
        if current.inbox is None:
            return None
        inboxes = current.keyed_inboxes or [current.inbox]
        feeding = producers.get(inboxes[0], [])
        if len(feeding) != 1 or feeding[0].outboxes != inboxes:
            return None  # merged, fanned out, or read twice
        upstream = feeding[0]
        if upstream.stage is None:  # a source: a plain iterable gives every index
            return None if isinstance(upstream.source, Stage) else chain
        # A router sends each element to one worker of the next stage: it drops nothing.
        if upstream.stage.kind not in STREAMING_KINDS and upstream.stage.kind != "route":
            return None
        chain.append(upstream)
        current = upstream


class _Builder:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.nodes: list[Node] = []
        self.channels: list[ChannelSpec] = []
        self._seen: dict[int, Node] = {}
        self._owned: dict[int, Node] = {}  # by id: every object a node of this run computes

    def visit(self, obj: Iterable[Any], reader: str | None = None) -> Node:
        node = self._seen.get(id(obj))
        if node is None:
            node = self._node(obj, reader)
            self._seen[id(obj)] = node
            self.nodes.append(node)
            self._owned[id(obj)] = node
            if node.source is not None:  # from_iterable(xs): xs is computed here too
                self._owned.setdefault(id(node.source), node)
        return node

    def relay(self) -> None:
        """Give each source that is a stage of another backend the objects its graph reads
        that this run computes, each through a channel of its own, so they run once. What
        the graphs of two such sources read, this run computes too (it adopts it)."""
        while True:
            foreign = [node.source for node in self.nodes if isinstance(node.source, Stage)]
            adopted = shared_reads(foreign, set(self._owned))
            if not adopted:
                break
            for obj in adopted:
                self.visit(obj)
        for node in list(self.nodes):
            if not isinstance(node.source, Stage):
                continue
            others = {key for key, owner in self._owned.items() if owner is not node}
            for obj in reads_of(node.source, others):
                channel = self.channel(AUTOMATIC_MAXSIZE, readers=1, automatic=True)
                self.connect(self._owned[id(obj)], channel)
                node.relays[id(obj)] = channel

    def channel(self, maxsize: int, readers: int, automatic: bool = False) -> int:
        self.channels.append(ChannelSpec(maxsize=maxsize, readers=readers, automatic=automatic))
        return len(self.channels) - 1

    def connect(self, producer: Node, channel: int) -> None:
        spec = self.channels[channel]
        if channel not in producer.outboxes:  # a second reference adds copies, not writers
            spec.producers += producer.workers
        if producer.maxsize and (spec.maxsize == 0 or producer.maxsize < spec.maxsize):
            spec.maxsize, spec.automatic = producer.maxsize, False
        producer.outboxes.append(channel)

    def _node(self, obj: Iterable[Any], reader: str | None) -> Node:
        if not isinstance(obj, Stage) or not self.backend.runs_with(obj.backend):
            return Node(name=source_name(obj, reader), workers=1, source=obj)
        if obj.kind == "from_iterable":
            own = obj.maxsize or 0  # from_iterable's own bound on what waits downstream
            return Node(name=obj.name, workers=1, source=obj.upstreams[0], maxsize=own)
        if obj.key is not None:
            return self._keyed(obj)
        upstream_nodes = [self.visit(upstream, obj.name) for upstream in obj.upstreams]
        workers = obj.workers or 1  # workers=0 (no limit, task): one worker starts the calls
        inbox = self.channel(bound_of(obj), readers=workers, automatic=obj.maxsize is None)
        for upstream in upstream_nodes:
            self.connect(upstream, inbox)
        return Node(name=obj.name, workers=workers, stage=obj, inbox=inbox)

    def _keyed(self, obj: Stage[Any]) -> Node:
        """A stage with a ``key``: a ``route`` node reads its input and sends each item to
        the channel of one worker, chosen by the key. One router decides for the whole
        stage, so equal keys meet one worker (in arrival order) even where processes hash
        strings differently."""
        router: Stage[Any] = Stage(
            "route",
            obj.backend,
            obj.upstreams,
            obj.key,
            maxsize=obj.maxsize,
            label=router_label(obj),
        )
        route = self.visit(router)
        # Each worker's share of the stage's bound (0: none), so the stage holds no more.
        bound = bound_of(obj)
        share = -(-bound // obj.workers) if bound else 0
        automatic = obj.maxsize is None
        inboxes = [self.channel(share, readers=1, automatic=automatic) for _ in range(obj.workers)]
        for inbox in inboxes:
            self.connect(route, inbox)
        return Node(
            name=obj.name,
            workers=obj.workers,
            stage=obj,
            inbox=inboxes[0],
            keyed_inboxes=inboxes,
        )
