"""One worker's hold on a stage for one run: its hooks, injected resources and bound call.

Every backend's worker does the same three things: ``open()`` (run ``on_start``, bind what
``f`` asks for), call the returned function for each element, ``close()`` (run ``on_done``).

>>> import pypeln as pl
>>> from pypeln._worker.hooks import ActiveWorkers
>>> from pypeln._worker.counters import WorkerCounters
>>> stage = pl.sync.map(lambda x, k: x * k, [1], on_start=lambda: {"k": 3})
>>> session = WorkerSession(stage, 0, ActiveWorkers(1), WorkerCounters(), None)
>>> session.open().fn(5)
15
>>> session.close()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .counters import Counters
from .hooks import Call, WorkerInfo, WorkerStatus, bind, pick
from .policies.guards import Guard, Pause
from .policies.rate import Limiter, limited

if TYPE_CHECKING:
    from .._pipeline.stage import Stage


class Deadline(Protocol):
    """``f`` wrapped so that a call running over ``timeout`` returns ``SKIP`` (and is counted)."""

    #: False while an overrun call will be tried again (the stage's error policy says so).
    final: bool

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def close(self) -> None:
        """Release whatever the wrapper holds (a helper thread, say)."""


#: How a backend bounds one call: ``(f, timeout, counters) -> Deadline``.
DeadlineFactory = Callable[[Callable[..., Any], float, Counters], Deadline]


class WorkerSession:
    """Hooks and injection for worker ``index`` of ``stage``."""

    #: What applies the stage's error policy to a call (awaited in the async session).
    guard_type: type[Guard] = Guard
    #: What makes a call wait for its turn under ``rate`` (awaited in the async session).
    in_turn = staticmethod(limited)

    @staticmethod
    def sleep(seconds: float) -> Any:
        """How a wait is spent where the backend gives no pause (nothing stops the run)."""
        time.sleep(seconds)

    def __init__(
        self,
        stage: Stage[Any],
        index: int | None,
        status: WorkerStatus,
        counters: Counters,
        deadline: DeadlineFactory | None,
        pause: Pause | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.stage = stage
        self.index = index  # None where the backend has a single, unnumbered worker (sync)
        self.info = WorkerInfo(index=index or 0, stage=stage.name)
        self.status = status
        self._counters = counters
        self._deadline_factory = deadline
        self._deadline: Deadline | None = None
        # How a retry or a turn under ``rate`` is waited for: ended by the run's stop.
        self._pause: Pause = pause or self.sleep
        self._limiter = limiter  # the stage's turns, shared by its workers (with ``rate``)
        self._available: dict[str, Any] = {"worker_info": self.info}
        self._opened = False
        self._finished = False

    def open(self) -> Call:
        """Run ``on_start`` and return ``call(index, value)`` for this worker."""
        hook = self._start_hook()
        return self._started(None if hook is None else self._call_hook("on_start", *hook))

    def close(self) -> None:
        """Count this worker as finished, then run ``on_done`` (if ``on_start`` succeeded).

        A worker whose ``on_start`` failed still counts as finished, so that the last worker
        to finish sees ``stage_status.done``.
        """
        hook = self._done_hook()
        if hook is not None:
            self._call_hook("on_done", *hook)

    def _start_hook(self) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        """``on_start`` and what it asks for, if the stage has one."""
        on_start = self.stage.on_start
        if on_start is None:
            return None
        kwargs = pick(on_start, self._available, who="on_start", stage=self.stage.name, skip=False)
        return on_start, kwargs

    def _started(self, resources: Any) -> Call:
        """Bind ``f`` to what ``on_start`` returned."""
        if self.stage.on_start is not None:
            if resources is not None and not isinstance(resources, dict):
                raise TypeError(
                    f"stage {self.stage.name!r}: on_start must return a dict or None, "
                    f"got {type(resources).__name__}"
                )
            self._available = {**(resources or {}), "worker_info": self.info}
        self._opened = True
        return self._bind(self.stage.f if self.stage.f is not None else _no_function)

    def _done_hook(self) -> tuple[Callable[..., Any], dict[str, Any]] | None:
        """Count this worker as finished; ``on_done`` and its arguments if it is to run."""
        if self._deadline is not None:
            self._deadline.close()
        if self._finished:
            return None
        self._finished = True
        status = self.status.finish()
        on_done = self.stage.on_done
        if not self._opened or on_done is None:
            return None
        available = {**self._available, "stage_status": status}
        kwargs = pick(on_done, available, who="on_done", stage=self.stage.name, skip=False)
        return on_done, kwargs

    def close_quietly(self) -> None:
        """``close()`` on a worker that is already failing or stopping: the first error wins."""
        try:
            self.close()
        except Exception:  # reporting it would mask the error that stopped the run
            pass

    def _call_hook(self, who: str, hook: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        try:
            return hook(**kwargs)
        except StopIteration as error:  # would end the consumer's loop silently (PEP 479)
            raise RuntimeError(
                f"{who} of stage {self.stage.name!r} raised StopIteration"
            ) from error

    def _bind(self, f: Callable[..., Any]) -> Call:
        kwargs = pick(
            f, {**self._available, "element_index": None}, who="f", stage=self.stage.name, skip=True
        )
        wants_index = "element_index" in kwargs  # passed per element, not bound here
        kwargs.pop("element_index", None)
        stage, fn = self.stage, f
        retried = stage.retry is not None and stage.retry.attempts > 1
        guarded = retried or stage.on_error != "raise"
        timed = bool(stage.timeout) and self._deadline_factory is not None
        if stage.kind == "flat_map" and (timed or guarded):
            fn = self._materialized(f)  # one call produces every result: it is timed or retried
        if timed:
            assert self._deadline_factory is not None
            self._deadline = self._deadline_factory(fn, stage.timeout, self._counters)
            fn = self._deadline
        if self._limiter is not None:  # every attempt waits for its turn, before its timeout
            fn = self.in_turn(fn, self._limiter, self._pause)
        fn = bind(fn, kwargs)
        if guarded:  # the guard takes element_index, which a Failure names, on every call
            fn = self._guard(fn, wants_index)
            wants_index = True
        return Call(fn, wants_index, stage.name, self.index, self._counters)

    def _guard(self, fn: Callable[..., Any], wants_index: bool) -> Guard:
        stage = self.stage
        return self.guard_type(
            fn,
            wants_index,
            stage.name,
            self.index,
            self._counters,
            stage.retry,
            stage.on_error,
            self._pause,
            self._deadline,
        )

    def _materialized(self, f: Callable[..., Any]) -> Callable[..., Any]:
        """``f`` returning a list of its results, so that one call produces them all."""

        def call_to_list(*args: Any, **kwargs: Any) -> list[Any]:
            return list(f(*args, **kwargs))

        return call_to_list


def _no_function(value: Any) -> Any:
    """Stands for ``f`` in stages that have none (concat, ordered): their kernels never call."""
    raise AssertionError("a stage without f has no call")
