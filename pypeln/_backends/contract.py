"""The backend contract: everything a backend implements, written for whoever adds one.

A backend decides where workers run and how elements travel between them; everything
else (the combinators, validation, the plan, kernels, hooks, timeouts, counters) is shared.
The smallest backend implements ``Backend.iterate`` alone (``sync`` does). A backend whose
workers wait on queues (``thread``, ``task``, ``process``) builds on what they share instead:

* ``compile_plan`` turns the graph into nodes (each with its workers) and channels;
* ``run_worker(node, index, context)`` (``common/worker_loop.py``) is the whole body of one
  worker: it reads its ``ChannelReader``, runs the kernel, writes to its ``ChannelWriter``
  ends;
* ``consume(open_run)`` (``common/consumer.py``) is the consumer's side of a ``Run``.

So such a backend writes a ``Backend`` whose ``iterate`` is ``consume(...)``, a ``Run`` that
is also the ``WorkerContext`` of its workers, and the two ends of its channel. The elements
that travel are ``(index, value)`` pairs; a channel never looks inside them.

Every wait of a run (a full channel, an empty one) ends when the run stops: it raises
``Stopped``, which workers and the consumer treat as "leave now, quietly".

Registering the backend is one line in ``registry.py``; the contract suite then runs on it.

>>> import pypeln as pl
>>> from pypeln._worker.counters import RunStatistics
>>> stage = pl.thread.map(str.upper, "ab")
>>> sorted(stage.backend.iterate(stage, 0, RunStatistics()))
[((0,), 'A'), ((1,), 'B')]
>>> pl.task.backend.async_workers, pl.thread.backend.async_workers
(True, False)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from .._worker.activity import WorkerActivity
from .common.shared_state import Namespace

if TYPE_CHECKING:
    from .._pipeline.plan import Node, Plan
    from .._pipeline.stage import Stage
    from .._worker.counters import Counters, RunStatistics
    from .._worker.hooks import WorkerStatus
    from .._worker.kernels import Element
    from .._worker.policies.guards import Pause
    from .._worker.policies.rate import Limiter
    from .._worker.session import DeadlineFactory


class Backend(ABC):
    """One execution backend, as ``pl.<name>`` exposes it.

    The class attributes declare what the backend can do; the combinators and the tests
    ask them, never the name.
    """

    #: The public name: ``pl.<name>.map``.
    name: ClassVar[str]
    #: Its workers can be tasks of an event loop: ``aiterate`` runs in the caller's loop,
    #: and ``f`` and the hooks may be ``async def`` (elsewhere they are refused at the call).
    async_workers: ClassVar[bool] = False
    #: ``workers=0`` means "no limit on concurrent calls" (else it is refused).
    unlimited_workers: ClassVar[bool] = False
    #: Workers run in the consumer's process: what ``f`` changes, the consumer sees.
    shares_memory: ClassVar[bool] = True
    #: A stage's workers run at the same time (``sync`` runs one call at a time).
    concurrent_workers: ClassVar[bool] = True
    #: The first run connects this process to a cluster, whose threads and connections stay
    #: for the life of the process (``ray``).
    joins_cluster: ClassVar[bool] = False
    #: Other configurations whose workers behave differently enough that the contract
    #: suite must pass on each too (a start method, say); each is a ``variant()``.
    variants: ClassVar[tuple[str, ...]] = ()
    #: The ``Namespace`` class its workers share state with (``pl.<name>.Namespace``).
    Namespace: ClassVar[type[Any]] = Namespace

    def variant(self, name: str) -> Backend:
        """This backend configured as ``name`` (one of ``variants``)."""
        raise ValueError(f"pl.{self.name} has no variant {name!r}")

    def runs_with(self, other: Backend) -> bool:
        """Whether a stage of ``other`` runs in this backend's runs (its workers read and
        write this run's channels) rather than being read as a source of its own run.
        Only itself by default; a backend whose stages carry options of their own (what
        each of ``pl.ray.using(...)``'s actors asks for) may run them all together."""
        return other is self

    @abstractmethod
    def iterate(self, stage: Stage[Any], maxsize: int, stats: RunStatistics) -> Iterator[Element]:
        """Run the graph ending in ``stage``; yield its elements as they are produced.

        Nothing starts before the first ``next()``. A stage of another backend in the graph
        is a source: iterate it (``elements_of`` does) and keep its indices. The first error
        of any worker is raised from ``next()`` with its original type, named after its
        stage (``mark_stage``). Closing the iterator, or dropping it, stops the run and
        releases every worker, channel and thread it started before ``close()`` returns.
        ``maxsize`` bounds the consumer's own channel (0: the last stage's ``maxsize``).
        ``stats.stop``, when set, lets another thread stop the run: attach to it.
        """

    def aiterate(
        self, stage: Stage[Any], maxsize: int, stats: RunStatistics
    ) -> AsyncGenerator[Element, None]:
        """``iterate`` for ``async for`` in the running loop; ``aclose()`` stops the run.

        By default the run goes on beside the loop, read by a stage of a backend with
        ``async_workers``, so the loop never blocks; such a backend overrides this.
        """
        # Deferred: the pipeline layer imports this module.
        from .._pipeline.stage import read_asynchronously

        reader = read_asynchronously(stage)
        return reader.backend.aiterate(reader, maxsize, stats)


@dataclass(frozen=True)
class ChannelStatistics:
    """What one channel holds and has moved: what the stall watch reads, and live statistics.

    >>> ChannelStatistics(maxsize=8, fill=3, taken=120, waiting_readers=0, waiting_producers=2)
    ChannelStatistics(maxsize=8, fill=3, taken=120, waiting_readers=0, waiting_producers=2)
    """

    maxsize: int  # its bound, in items (0: none)
    fill: int  # how much of the bound is held: queued, reserved by producers, lent to readers
    taken: int  # items readers took so far: the run's progress
    waiting_readers: int
    waiting_producers: int


class ChannelWriter(ABC):
    """The end of a channel a worker writes to (one per writing worker, or shared by all).

    A channel holds at most ``maxsize`` items (0: no bound) wherever they wait: queued,
    in producers' pending batches (``reserve``) or in readers' hands (see ``ChannelReader``).
    Producers batch items in a ``pending`` deque of their own and hand it on whole.
    """

    #: The channel's bound, in items (0: none).
    maxsize: int
    #: How many workers write to the channel (each may batch its share of the bound).
    producers: int

    @property
    @abstractmethod
    def hungry(self) -> int:
        """Readers waiting that no item has woken yet: a producer holding items flushes."""

    @abstractmethod
    def put_from(self, pending: deque[Any], reserve: int = 0) -> int:
        """Move every item of ``pending`` into the channel, in order, waiting for room as
        needed; then reserve room for ``reserve`` more, as ``reserve()`` does.

        Stop: raises ``Stopped``, whatever is left in ``pending`` stays there. A dead
        reader: the run learns it elsewhere and stops, so the wait ends the same way.
        """

    @abstractmethod
    def reserve(self, pending: deque[Any], want: int) -> int:
        """Without waiting, hold what room there is now for up to ``want`` items to join
        ``pending``; return how many may join (room held from before included). Without a
        bound: ``want``."""

    @abstractmethod
    def release(self, pending: deque[Any]) -> None:
        """Give back the room held for ``pending`` that its items do not use (the producer
        is about to wait for input, and must not sit on room meanwhile)."""

    @abstractmethod
    def share(self, pending: deque[Any]) -> None:
        """The producer batches into ``pending`` from now on (until ``unshare``).

        An item in ``pending`` must not stay hidden from a reader that waits while the
        producer's worker is busy in user code: either a reader about to wait takes it
        from ``pending`` itself (threads of one process), or the channel hands it on from
        another thread of the producer's (between processes). The producer only appends
        to ``pending`` meanwhile; the channel may take from its left end, under its lock.
        """

    @abstractmethod
    def unshare(self, pending: deque[Any]) -> None:
        """The producer of ``pending`` is done with it: stop sharing it; drop its room."""

    @abstractmethod
    def close(self) -> None:
        """This producer is done (called once per producing worker, after its last put).

        The last close ends the stream: readers get ``[]`` once the channel is empty.
        A producer that stops or fails never closes: the run's stop ends every wait.
        """


#: What ``ChannelReader.get_batch`` returns when its ``timeout`` ran out before any item came
#: (compare with ``is``: the end of the stream is an empty list too).
NOTHING_YET: Final[list[Any]] = []


class ChannelReader(ABC):
    """The end of a channel a worker (or the consumer) reads from.

    A reader takes items in batches and keeps their room until it asks for the next
    batch (``returned``), so that ``maxsize`` bounds what is in its hands too.
    """

    #: The channel's bound, in items (0: none).
    maxsize: int

    @abstractmethod
    def get_batch(
        self,
        limit: int,
        returned: int = 0,
        before_wait: Callable[[], None] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """Up to ``limit`` items, waiting until there is at least one; ``[]`` at the end
        (every producer closed, nothing left).

        ``returned``: the size of this reader's last batch, which it is done with now.
        ``before_wait`` is called (once, outside any lock) before the reader may wait.
        ``timeout``: wait no longer than that many seconds, and return ``NOTHING_YET`` (an
        empty list, told apart from the end by identity) if no item came meanwhile.
        Stop: raises ``Stopped``. A dead producer: the run learns it and stops.
        """

    @abstractmethod
    def give_back(self, returned: int) -> None:
        """A reader that leaves (early, mid-batch) is done with its last batch's room."""


class WorkerContext(ABC):
    """What one run gives each of its workers (``run_worker`` asks nothing else)."""

    #: Where the run's counters are read (``timed_out()``, ``filtered_out()``).
    statistics: RunStatistics
    #: How a call with a ``timeout`` is bounded (None: timeouts unsupported here).
    deadline: DeadlineFactory | None
    #: How a worker waits before a retry, or for its turn under a ``rate``: ``StopSignal.pause``
    #: of the run's stop, so that a stopping run does not wait (None: a plain sleep, where
    #: nothing waits so).
    pause: Pause | None
    #: The most items a worker may hold at once (1 where a worker may vanish between items).
    max_batch: int

    @abstractmethod
    def reader(self, channel: int) -> ChannelReader:
        """The end of channel ``channel`` (an index into the plan's channels) to read."""

    @abstractmethod
    def writer(self, channel: int) -> ChannelWriter:
        """The end of channel ``channel`` to write; a worker asks once per channel."""

    @abstractmethod
    def status(self, node: Node) -> WorkerStatus:
        """How many workers of ``node`` still run (what ``on_done`` is told)."""

    @abstractmethod
    def counters(self, node: Node, index: int) -> Counters:
        """Where worker ``index`` of ``node`` counts what it drops (timeouts, filters) and
        meters its flow: ``statistics.worker(node.name, id(node))``, or counters kept
        elsewhere (shared memory) that ``statistics.add(node.name, counters, id(node))``
        made known; the key is how ``stats()`` finds the stage (``consume`` registered it).
        """

    @abstractmethod
    def limiter(self, node: Node) -> Limiter | None:
        """The turns that every worker of ``node`` takes before a call when its stage has a
        ``rate`` (one for the whole stage, wherever its workers run); None without one."""

    def activity(self, node: Node, index: int) -> WorkerActivity:
        """Where worker ``index`` of ``node`` notes the batch it works on, for the stall
        report of a run that has one (by default, nobody reads it)."""
        return WorkerActivity()

    @abstractmethod
    def fail(self, error: BaseException) -> None:
        """A worker failed: keep the first error and stop the run (from any thread; a later
        error, or a stop, is ignored)."""


class Run(ABC):
    """One run of a plan, as ``consume`` drives it from the consumer's thread."""

    #: The run's counters (the ``RunIterator``'s).
    statistics: RunStatistics
    #: What it runs; with ``plan.reorders``, the consumer puts the output back in order.
    plan: Plan

    @abstractmethod
    def start(self) -> None:
        """Start every worker. An error here is raised to the consumer; ``close()`` follows."""

    @abstractmethod
    def fail(self, error: BaseException) -> None:
        """Keep the first error and stop the run: every wait ends with ``Stopped`` (from any
        thread: ``RunIterator.close()`` from another thread comes here)."""

    @property
    @abstractmethod
    def output(self) -> ChannelReader:
        """The channel the consumer reads; the last stage writes to it."""

    @abstractmethod
    def channel_statistics(self) -> list[ChannelStatistics]:
        """Each channel's fill and progress, in plan order (from any thread, without
        waiting): what the stall watch and live statistics read."""

    def stall_report(self, channels: Sequence[ChannelStatistics]) -> str:
        """Where the run is, for the warning of a run that stalled (``channels``: what
        ``channel_statistics`` gave); by default, each channel's fill."""
        return "\n".join(
            f"channel {position}: {channel.fill} of {channel.maxsize or 'unbounded'}"
            for position, channel in enumerate(channels)
        )

    @abstractmethod
    def raise_error(self) -> None:
        """Raise the first error of the run, if any (after the output ended or stopped).

        A worker that died without a word (a crash) is an error too:
        ``WorkerCrashedError``, naming its stage.
        """

    @abstractmethod
    def close(self) -> None:
        """Stop every worker and release everything the run holds; when it returns, no
        worker of the run runs user code any more, except threads stuck in a call (they
        cannot be killed, and are left behind after a grace period)."""
