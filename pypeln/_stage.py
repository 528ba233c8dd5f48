"""Stage: an immutable, lazy node of a pipeline graph.

Building a stage runs nothing. Iterating it runs the whole graph behind it on the stage's
runtime, and every iteration is a fresh run.

>>> import pypeln as pl
>>> stage = pl.sync.map(lambda x: x * 10, [1, 2, 3])
>>> list(stage), list(stage)
([10, 20, 30], [10, 20, 30])
>>> stage | sum
60
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from ._errors import SourceLabel
from ._one_shot import is_one_shot, note_reads
from ._stats import RunStatistics

if TYPE_CHECKING:
    from ._runtime._contract import Runtime

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R = TypeVar("R")

StageKind = Literal["from_iterable", "map", "filter", "flat_map", "each", "concat", "ordered"]


@dataclass(frozen=True, eq=False, repr=False)
class Stage(Generic[T_co]):
    """A pipeline stage producing items of type ``T_co``; iterate it to run the pipeline."""

    kind: StageKind
    runtime: Runtime
    upstreams: tuple[Iterable[Any], ...]
    f: Callable[..., Any] | None = None
    workers: int = 1
    maxsize: int = 0
    timeout: float = 0.0
    on_start: Callable[..., Any] | None = None
    on_done: Callable[..., Any] | None = None
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
        qualname = getattr(self.f, "__qualname__", type(self.f).__name__)
        return f"{self.kind}({qualname.rpartition('<locals>.')[2]})"  # no enclosing function

    def __iter__(self) -> Iterator[T_co]:
        return run_items(self, maxsize=0, return_index=False, stats=RunStatistics())

    def __aiter__(self) -> AsyncIterator[T_co]:
        """``async for x in stage`` runs the pipeline in the running event loop."""
        return arun_items(self, maxsize=0, return_index=False, stats=RunStatistics())

    def __await__(self) -> Generator[Any, None, list[T_co]]:
        """``await stage`` runs the pipeline in the running event loop; the list of items."""
        return _collect(self).__await__()

    def __or__(self, fn: Callable[[Stage[T_co]], R]) -> R:
        """``stage | fn`` is ``fn(stage)``: ``stage | list``, ``stage | pl.thread.map(f)``."""
        return fn(self)

    def __repr__(self) -> str:
        return f"<{self.runtime.name} stage {self.name} workers={self.workers}>"


def source_name(source: object, reader: str | None) -> str:
    """How errors and stall reports call ``source``, read by the stage named ``reader``
    (None: by a ``from_iterable`` the user wrote).

    A stage of another backend is named as itself (it labels its own errors); a plain
    iterable is described as what the user passed.

    >>> source_name((x for x in ""), "map(parse)"), source_name([], None)
    ('the iterable passed to map(parse) (generator)', 'from_iterable(list)')
    """
    if isinstance(source, Stage):
        return SourceLabel(f"{source.runtime.name} stage {source.name}", passes_through=True)
    kind = type(source).__name__
    if reader is None:
        return f"from_iterable({kind})"
    return SourceLabel(f"the iterable passed to {reader} ({kind})")


def run_items(
    stage: Stage[Any], *, maxsize: int, return_index: bool, stats: RunStatistics
) -> Generator[Any, None, None]:
    """Run ``stage``; yield its items (or ``(index, item)`` pairs). ``close()`` stops the run."""
    note_one_shot_reads(stage)
    elements = stage.runtime.iterate(stage, maxsize, stats)
    try:
        yield from (elements if return_index else map(itemgetter(1), elements))
    finally:
        close_iterator(elements)


async def arun_items(
    stage: Stage[Any], *, maxsize: int, return_index: bool, stats: RunStatistics
) -> AsyncGenerator[Any, None]:
    """``run_items`` in the running loop. A stage of a backend without async workers runs
    beside the loop, read by a ``task`` stage."""
    note_one_shot_reads(stage)
    if not hasattr(stage.runtime, "aiterate"):
        stage = read_by_task(stage)
    aiterate: Callable[..., AsyncGenerator[Any, None]] = stage.runtime.aiterate  # type: ignore[attr-defined]
    elements = aiterate(stage, maxsize, stats)
    try:
        async for element in elements:
            yield element if return_index else element[1]
    finally:
        await elements.aclose()


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


def read_by_task(source: object, label: str | None = None) -> Stage[Any]:
    """A ``task`` stage reading ``source``: how an async iterable reaches a sync runtime, and
    a stage of a backend without async workers reaches ``async for``."""
    from .task import runtime as task_runtime

    return Stage("from_iterable", task_runtime, (source,), label=label)  # type: ignore[arg-type]


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

    >>> import pypeln as pl
    >>> run = pl.sync.to_iterable(pl.sync.map(str, range(5)))
    >>> next(run), next(run)
    ('0', '1')
    >>> run.close()
    >>> run.timed_out()
    {}
    """

    def __init__(self, stage: Stage[Any], *, maxsize: int, return_index: bool) -> None:
        self.statistics = RunStatistics()
        self._items = run_items(
            stage, maxsize=maxsize, return_index=return_index, stats=self.statistics
        )

    def __iter__(self) -> Iterator[T_co]:
        # A for-loop iterates the run's generator itself: no Python-level call per item.
        return self._items

    def __next__(self) -> T_co:
        item: T_co = next(self._items)
        return item

    def close(self) -> None:
        """Stop the run now and release its workers."""
        self._items.close()

    def timed_out(self) -> dict[str, int]:
        """How many elements each stage skipped because a call ran over its ``timeout``."""
        return self.statistics.timed_out()

    def filtered_out(self) -> dict[str, int]:
        """How many elements each ``filter`` stage dropped."""
        return self.statistics.filtered_out()
