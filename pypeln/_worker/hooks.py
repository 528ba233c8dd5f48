"""Hooks (``on_start``/``on_done``) and injection of parameters by name.

``on_start`` runs once per worker and may return a dict; its entries, ``worker_info``,
``element_index`` (in ``f``) and ``stage_status`` (in ``on_done``) are passed to whichever
of ``f``, ``on_start`` and ``on_done`` names them as parameters.

>>> def f(x, db, element_index): ...
>>> sorted(wanted_parameters(f, skip_element=True).required)
['db', 'element_index']
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from .._errors import MissingInjectionError, mark_element, mark_stage
from .counters import Counters

IN_F = frozenset({"element_index", "worker_info"})
IN_ON_START = frozenset({"worker_info"})
IN_ON_DONE = frozenset({"worker_info", "stage_status"})


@dataclass(frozen=True)
class WorkerInfo:
    """Passed as ``worker_info``: which worker of which stage is running.

    Every backend namespace exports it too (``pl.thread.WorkerInfo``), as pypeln 0.4 did.

    >>> WorkerInfo(index=2, stage="map(f)").index
    2
    """

    index: int
    stage: str = ""


@dataclass(frozen=True)
class StageStatus:
    """Passed to ``on_done`` as ``stage_status``: the stage as this worker finished.

    It is taken when the worker finishes, so exactly one ``on_done`` of a stage (the last
    worker's) sees ``done``: the place to release something the workers shared. (When the
    run fails because an ``on_start`` raised, that worker has no ``on_done`` to run; if it
    happens to finish last, no ``on_done`` sees ``done``.)

    >>> StageStatus(workers=3, active_workers=0).done
    True
    """

    workers: int
    active_workers: int  # workers of the stage still running when this one finished

    @property
    def done(self) -> bool:
        """True for the last worker of the stage to finish."""
        return self.active_workers == 0


class WorkerStatus(Protocol):
    """Counts a stage's running workers (in one process, or across processes)."""

    def finish(self) -> StageStatus:
        """One worker finished: the status it reports to ``on_done``."""
        ...


class ActiveWorkers:
    """Counts a stage's running workers; each finishing worker gets its ``StageStatus``.

    >>> count = ActiveWorkers(2)
    >>> count.finish().done, count.finish().done
    (False, True)
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._active = workers
        self._lock = threading.Lock()

    def finish(self) -> StageStatus:
        """One worker finished: the status it reports to ``on_done``."""
        with self._lock:
            self._active -= 1
            return StageStatus(self.workers, self._active)


@dataclass(frozen=True)
class Wanted:
    """The parameters a function can take by name, and those it cannot do without."""

    names: frozenset[str]
    required: frozenset[str]


def wanted_parameters(fn: Callable[..., Any], *, skip_element: bool) -> Wanted:
    """What ``fn`` asks for by name; with ``skip_element`` its first positional is the item."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: they take the item only
        return Wanted(frozenset(), frozenset())
    if skip_element and params and params[0].kind in _POSITIONAL:
        params = params[1:]
    named = [p for p in params if p.kind in _NAMED]
    required = [p.name for p in named if p.default is inspect.Parameter.empty]
    return Wanted(frozenset(p.name for p in named), frozenset(required))


def takes_element(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called with one positional argument (the element)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in _POSITIONAL or p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)


def check_injections(
    api: str,
    f: Callable[..., Any] | None,
    on_start: Callable[..., Any] | None,
    on_done: Callable[..., Any] | None,
) -> None:
    """Fail at the call when a function asks for a parameter nothing can provide.

    What ``on_start`` returns is only known at run time, so with an ``on_start`` the
    remaining names are checked again before the worker takes its first element.
    """
    if f is not None and not takes_element(f):
        raise TypeError(f"{api}(): f must accept the element as its first positional argument")
    strict = on_start is None  # otherwise on_start may provide any name
    for who, fn, injectable, skip in (
        ("f", f, IN_F, True),
        ("on_start", on_start, IN_ON_START, False),
        ("on_done", on_done, IN_ON_DONE, False),
    ):
        if fn is None or (not strict and who != "on_start"):
            continue
        missing = wanted_parameters(fn, skip_element=skip).required - injectable
        if missing:
            raise TypeError(
                f"{api}(): {who} asks for parameter {sorted(missing)[0]!r}, which nothing "
                f"provides; it can receive {sorted(injectable)}"
                + ("" if who == "on_start" else " and the keys of the dict on_start returns")
            )


def pick(
    fn: Callable[..., Any], available: Mapping[str, Any], *, who: str, stage: str, skip: bool
) -> dict[str, Any]:
    """The entries of ``available`` that ``fn`` names; raise if it needs one that is absent."""
    wanted = wanted_parameters(fn, skip_element=skip)
    missing = wanted.required - available.keys()
    if missing:
        raise MissingInjectionError(
            f"stage {stage!r}: {who} asks for parameter {sorted(missing)[0]!r}, which nothing "
            f"provides; available: {sorted(available)}"
        )
    return {name: value for name, value in available.items() if name in wanted.names}


@dataclass(frozen=True)
class Call:
    """How a kernel calls ``f`` for one worker: resources bound once, the index if asked.

    >>> from pypeln._worker.counters import WorkerCounters
    >>> def pair(x, element_index):
    ...     return x, element_index
    >>> call = Call(pair, True, "map(pair)", 0, WorkerCounters())
    >>> call.fn("a", element_index=(4,))
    ('a', (4,))
    """

    fn: Callable[..., Any]  # f with injected resources (and a timeout) bound
    wants_index: bool  # pass element_index=... on every call
    stage: str
    worker: int | None
    counters: Counters  # this worker's: what it dropped on purpose

    def fail(self, error: Exception, index: tuple[int, ...] | None, value: Any) -> Exception:
        """Label ``error`` with this stage and element; return the exception to raise.

        A ``StopIteration`` from ``f`` becomes a ``RuntimeError`` (as in any generator, PEP
        479): raised as it is, it would silently end the consumer's loop.
        """
        if isinstance(error, StopIteration):
            error = RuntimeError(f"{self.stage} raised StopIteration")
        if index is not None:
            mark_element(error, index, value)
        mark_stage(error, self.stage, self.worker)
        return error


def bind(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Callable[..., Any]:
    """``fn`` with ``kwargs`` bound once, so each element costs one plain call."""
    return partial(fn, **kwargs) if kwargs else fn


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
