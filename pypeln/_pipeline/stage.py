"""Stage: an immutable, lazy node of a pipeline graph.

Building a stage runs nothing. Iterating it runs the whole graph behind it on the stage's
backend, and every iteration is a fresh run.

>>> import pypeln as pl
>>> stage = pl.sync.map(lambda x: x * 10, [1, 2, 3])
>>> list(stage), list(stage)
([10, 20, 30], [10, 20, 30])
>>> stage | sum
60
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from itertools import starmap
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar, overload

from .._backends.registry import async_backend
from .._errors import SourceLabel, Stopped
from .._insight.shown import Shown
from .._insight.stats import Stats, snapshot
from .._worker.counters import RunStatistics
from .._worker.policies.failures import OnError, Retry
from .diagram import mermaid
from .element import Element
from .one_shot import is_one_shot, note_reads
from .stopping import StopRequest

if TYPE_CHECKING:
    from .._backends.contract import Backend

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")

StageKind = Literal[
    "from_iterable", "map", "filter", "flat_map", "each", "concat", "ordered", "batch", "route"
]


@dataclass(frozen=True, eq=False, repr=False)
class Stage(Generic[T_co]):
    """A pipeline stage producing items of type ``T_co``; iterate it to run the pipeline."""

    kind: StageKind
    backend: Backend
    upstreams: tuple[Iterable[Any], ...]
    f: Callable[..., Any] | None = None
    workers: int = 1
    #: The bound of its input queue, in items (0: none; None: one the plan sizes).
    maxsize: int | None = None
    timeout: float = 0.0
    on_start: Callable[..., Any] | None = None
    on_done: Callable[..., Any] | None = None
    #: What a call that raises gets: tries again (``retry``), then ``on_error`` decides.
    retry: Retry | None = None
    on_error: OnError = "raise"
    #: At most this many calls per second, over all the stage's workers (None: no limit).
    rate: float | None = None
    #: Items whose ``key(item)`` are equal go to the same worker (None: to any worker).
    #: A ``route`` stage (the plan adds one) sends each item to its worker by this key.
    key: Callable[[Any], Any] | None = None
    #: ``batch``: the items per list, and how long its first item may wait for the rest.
    batch_size: int = 0
    batch_wait: float = 0.0
    #: The name of a stage the user did not write (a source read for ``to_iterable``).
    label: str | None = None

    @property
    def name(self) -> str:
        """How errors and statistics call this stage, e.g. ``map(parse)``."""
        if self.label is not None:
            return self.label
        if self.kind == "from_iterable" and self.upstreams:
            return source_name(self.upstreams[0], None)
        if self.f is None:
            return self.kind
        return f"{self.kind}({function_name(self.f)})"

    def __iter__(self) -> Iterator[T_co]:
        return run_items(self, maxsize=0, return_index=False, stats=RunStatistics())

    def diagram(self) -> str:
        """The graph that ends in this stage as Mermaid text (a ``flowchart``): each stage
        with its backend, workers and ``maxsize``; paste it where Mermaid renders."""
        return mermaid(self, lambda obj: isinstance(obj, Stage))

    def __aiter__(self) -> AsyncIterator[T_co]:
        """``async for x in stage`` runs the pipeline in the running event loop."""
        return arun_items(self, maxsize=0, return_index=False, stats=RunStatistics())

    def __await__(self) -> Generator[Any, None, list[T_co]]:
        """``await stage`` runs the pipeline in the running event loop; the list of items."""
        return _collect(self).__await__()

    # ``stage | list`` spelled out: a checker that cannot solve ``list``'s overloaded
    # constructor as a ``Callable[[Stage[T]], R]`` (pyright) still sees a ``list[T]``.
    @overload
    def __or__(self, fn: type[list[Any]]) -> list[T_co]: ...
    @overload
    def __or__(self, fn: Callable[[Stage[T_co]], R]) -> R: ...
    def __or__(self, fn: Callable[[Stage[T_co]], R]) -> R:
        """``stage | fn`` is ``fn(stage)``: ``stage | list``, ``stage | pl.thread.map(f)``."""
        return fn(self)

    def __repr__(self) -> str:
        return f"<{self.backend.name} stage {self.name} workers={self.workers}>"


def function_name(fn: object) -> str:
    """How a stage's name calls the function the user passed: its name, without the
    enclosing function's.

    >>> def outer():
    ...     return lambda x: x
    >>> function_name(outer()), function_name(len)
    ('<lambda>', 'len')
    """
    qualname: str = getattr(fn, "__qualname__", type(fn).__name__)
    return qualname.rpartition("<locals>.")[2]


def source_name(source: object, reader: str | None) -> str:
    """How errors and stall reports call ``source``, read by the stage named ``reader``
    (None: by a ``from_iterable`` the user wrote).

    A stage of another backend is named as itself (it labels its own errors); a plain
    iterable is described as what the user passed.

    >>> source_name((x for x in ""), "map(parse)"), source_name([], None)
    ('the iterable passed to map(parse) (generator)', 'from_iterable(list)')
    """
    if isinstance(source, Stage):
        return SourceLabel(f"{source.backend.name} stage {source.name}", passes_through=True)
    kind = type(source).__name__
    if reader is None:
        return f"from_iterable({kind})"
    return SourceLabel(f"the iterable passed to {reader} ({kind})")


def run_items(
    stage: Stage[Any], *, maxsize: int, return_index: bool, stats: RunStatistics
) -> Generator[Any, None, None]:
    """Run ``stage``; yield its items (or ``Element``s). ``close()`` stops the run.

    With ``stats.stop`` (a ``RunIterator``'s), another thread may stop the run: the
    generator then ends, at once if it waits, else before its next item.
    """
    note_one_shot_reads(stage)
    shown = Shown(stats)
    elements = stage.backend.iterate(stage, maxsize, stats)
    stop = stats.stop
    try:
        if stop is not None:
            for element in elements:
                if stop.requested:
                    return
                yield Element(*element) if return_index else element[1]
        else:
            yield from (
                starmap(Element, elements) if return_index else map(itemgetter(1), elements)
            )
    except Stopped:
        if stop is None or not stop.requested:
            raise
    finally:
        try:
            close_iterator(elements)
        finally:
            shown.close()


async def arun_items(
    stage: Stage[Any], *, maxsize: int, return_index: bool, stats: RunStatistics
) -> AsyncGenerator[Any, None]:
    """``run_items`` in the running loop (the backend's ``aiterate``)."""
    note_one_shot_reads(stage)
    shown = Shown(stats)
    elements = stage.backend.aiterate(stage, maxsize, stats)
    stop = stats.stop
    try:
        async for element in elements:
            if stop is not None and stop.requested:
                return
            yield Element(*element) if return_index else element[1]
    except Stopped:
        if stop is None or not stop.requested:
            raise
    finally:
        try:
            await elements.aclose()
        finally:
            shown.close()


def note_one_shot_reads(stage: Stage[Any]) -> None:
    """A run of ``stage`` starts: warn about each one-shot source an earlier run read."""
    seen: set[int] = set()
    pending = [stage]
    while pending:
        reader = pending.pop()
        for upstream in reader.upstreams:
            if id(upstream) in seen:
                continue
            seen.add(id(upstream))
            if isinstance(upstream, Stage):
                pending.append(upstream)
            elif is_one_shot(upstream):
                note_reads(reader, upstream, stacklevel=3)  # the frame that started the run


def read_asynchronously(source: object, label: str | None = None) -> Stage[Any]:
    """A stage of the backend with async workers, reading ``source``: how an async iterable
    reaches another backend, and a stage of another backend reaches ``async for``."""
    return Stage("from_iterable", async_backend(), (source,), label=label)  # type: ignore[arg-type]


async def _collect(stage: Stage[T]) -> list[T]:
    return [item async for item in stage]


def close_iterator(iterator: object) -> None:
    """End ``iterator`` now if it can be ended (a run, a generator); plain ones need nothing.

    >>> def gen():
    ...     yield 1
    >>> g = gen(); close_iterator(g); list(g)
    []
    """
    close: Callable[[], None] | None = getattr(iterator, "close", None)
    if close is not None:
        close()


class RunIterator(Iterator[T_co]):
    """The iterator of one run, with its statistics; ``close()`` stops the run early.

    Consume it with ``for``/``next()`` or with ``async for`` (in a running event loop), one
    or the other. ``close()`` may come from any thread: from the consuming thread it
    releases the run at once; from another one (a watchdog, a UI) it stops the run, and the
    consumer's ``next()``, at once if it is waiting, releases the run and raises
    ``StopIteration``.

    >>> import pypeln as pl
    >>> run = pl.sync.to_iterable(pl.sync.map(str, range(5)))
    >>> next(run), next(run)
    ('0', '1')
    >>> run.close()
    >>> run.timed_out()
    {}
    """

    def __init__(
        self,
        stage: Stage[Any],
        *,
        maxsize: int,
        return_index: bool,
        progress: Any = False,
        monitor: int | None = None,
    ) -> None:
        self.statistics = RunStatistics()
        self.statistics.progress = progress
        self.statistics.monitor = monitor
        self._stop = self.statistics.stop = StopRequest()
        self._run = (stage, maxsize, return_index)
        self._items: Iterator[T_co] = run_items(
            stage, maxsize=maxsize, return_index=return_index, stats=self.statistics
        )
        self._async_items: AsyncGenerator[T_co, None] | None = None
        self._consumer: threading.Thread | None = None  # the thread that began consuming
        self._asynchronous = False  # consumed with async for

    def __iter__(self) -> Iterator[T_co]:
        # A for-loop iterates the run's generator itself: no Python-level call per item.
        self._claim(asynchronous=False)
        return self._items

    def __next__(self) -> T_co:
        if self._consumer is None:
            self._claim(asynchronous=False)
        item: T_co = next(self._items)
        return item

    def __aiter__(self) -> AsyncIterator[T_co]:
        """``async for x in run`` runs the pipeline in the running event loop."""
        self._claim(asynchronous=True)
        if self._async_items is None:
            stage, maxsize, return_index = self._run
            self._async_items = arun_items(
                stage, maxsize=maxsize, return_index=return_index, stats=self.statistics
            )
        return self._async_items

    def _claim(self, *, asynchronous: bool) -> None:
        """The first use decides how the run is consumed; the other way is refused after."""
        if self._consumer is None:
            self._consumer = threading.current_thread()
            self._asynchronous = asynchronous
            if asynchronous:
                close_iterator(self._items)  # never started: it holds nothing
                self._items = _Refused()
        elif asynchronous != self._asynchronous:
            _refuse(asynchronous)

    def close(self) -> None:
        """Stop the run now and release its workers (from any thread, see the class)."""
        consumer = self._consumer
        if not self._asynchronous and (
            consumer is None or consumer is threading.current_thread() or not consumer.is_alive()
        ):
            try:
                close_iterator(self._items)
                return
            except ValueError:  # called while the run executes in this thread (f on sync)
                pass
        self._stop.request()

    async def aclose(self) -> None:
        """``close()`` for a run consumed with ``async for``: awaits its release."""
        if self._async_items is None:
            self.close()
        elif getattr(self._async_items, "ag_running", False):  # another task waits in it:
            # stopping the run ends that task's wait, and it releases the run
            self._stop.request()
        else:
            await self._async_items.aclose()

    def timed_out(self) -> dict[str, int]:
        """How many elements each stage skipped because a call ran over its ``timeout``."""
        return self.statistics.timed_out()

    def filtered_out(self) -> dict[str, int]:
        """How many elements each ``filter`` stage dropped."""
        return self.statistics.filtered_out()

    def failed(self) -> dict[str, int]:
        """How many elements each stage's error policy dropped (``on_error="skip"``, or
        ``pl.SKIP`` returned by its ``on_error`` function)."""
        return self.statistics.failed()

    @property
    def monitor_url(self) -> str | None:
        """The address of the run's live page while it runs (``monitor=``), else None."""
        url: str | None = self.statistics.monitor_url
        return url

    def stats(self) -> Stats:
        """The run's statistics now (during the run or after it): per stage, items in and
        out, what was dropped, how its workers spend their time, its queue, the duration of
        a call; ``.bottleneck`` says what limits the run; ``print()`` shows a table."""
        return snapshot(self.statistics)


class _Refused(Iterator[Any]):
    """Stands for the generator of a run consumed with ``async for``: ``next()`` is refused."""

    def __next__(self) -> NoReturn:
        _refuse(asynchronous=False)


def _refuse(asynchronous: bool) -> NoReturn:
    how, other = ("next()/for", "async for") if asynchronous else ("async for", "next()/for")
    raise TypeError(
        f"RunIterator: this run is consumed with {how} already; it cannot also be consumed "
        f"with {other} (call to_iterable again for another run)"
    )
