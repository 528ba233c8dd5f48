"""Async kernels: what one task worker does with a batch of elements (the twins of ``kernels.py``).

``f`` may be an ``async def`` function or anything returning an awaitable; a plain result is
used as it is. Each result goes to ``output`` at once, and the kernel awaits ``flush()``
whenever the output says so (its batch is full, or a reader waits), so a slow call never
holds back the results before it.

>>> import asyncio
>>> from pypeln._worker.hooks import Call
>>> from pypeln._worker.counters import WorkerCounters
>>> class Collect(list):
...     def add(self, element):
...         self.append(element)
...         return False
>>> async def double(x):
...     return [x, x]
>>> call = Call(double, False, "flat_map(double)", 0, WorkerCounters())
>>> out = Collect()
>>> asyncio.run(flat_map_kernel(call, [((0,), "a")], out))
>>> out
[((0, 0), 'a'), ((0, 1), 'a')]
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Final, Protocol

from .hooks import Call
from .kernels import SKIP, Element

_awaitable_types: dict[type, bool] = {}


def is_awaitable(value: object) -> bool:
    """``inspect.isawaitable``, decided once per type (kernels ask for every result).

    >>> import asyncio
    >>> future = asyncio.Future(loop=asyncio.new_event_loop())
    >>> is_awaitable(future), is_awaitable(3)
    (True, False)
    """
    cls = type(value)
    known = _awaitable_types.get(cls)
    if known is None:
        known = _awaitable_types[cls] = inspect.isawaitable(value)
    return known


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` gives a coroutine or an async iterator (``async def``).

    >>> async def fetch(x): ...
    >>> is_async_callable(fetch), is_async_callable(partial(fetch)), is_async_callable(len)
    (True, True, False)
    """
    while isinstance(fn, partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    if inspect.isroutine(fn) or isinstance(fn, type):
        return False
    call = type(fn).__dict__.get("__call__")  # an object with an async __call__
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)


async def resolved(value: Any) -> Any:
    """``value``, awaited first if it is awaitable."""
    return (await value) if is_awaitable(value) else value


class Output(Protocol):
    """Where a kernel puts results; ``add`` returns True when ``flush()`` must be awaited."""

    def add(self, element: Element) -> bool: ...

    async def flush(self) -> None: ...


AsyncKernel = Callable[[Call, Iterable[Element], Output], Awaitable[None]]


async def map_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """``await f(x)`` for every element."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in batch:
            result = fn(value, element_index=index) if wants_index else fn(value)
            if is_awaitable(result):
                result = await result
            if result is not SKIP and output.add((index, result)):
                await output.flush()
    except Exception as error:
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


async def filter_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """The elements for which ``await f(x)`` is truthy; the others are counted."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    counters = call.counters
    try:
        for index, value in batch:
            keep = fn(value, element_index=index) if wants_index else fn(value)
            if is_awaitable(keep):
                keep = await keep
            if keep is SKIP:
                continue
            if not keep:
                counters.filtered_out += 1
            elif output.add((index, value)):
                await output.flush()
    except Exception as error:
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


async def flat_map_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """Every item of what ``f(x)`` returns: an iterable, an async iterable, or an awaitable
    of either; indexed one level deeper."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in batch:
            results = fn(value, element_index=index) if wants_index else fn(value)
            if is_awaitable(results):
                results = await results
            if results is SKIP:
                continue
            if hasattr(results, "__aiter__"):
                position = 0
                async for result in results:
                    if output.add(((*index, position), result)):
                        await output.flush()
                    position += 1
            else:
                for position, result in enumerate(results):
                    if output.add(((*index, position), result)):
                        await output.flush()
    except Exception as error:  # also what iterating f's result raised
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


async def each_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """``await f(x)`` for its side effect; nothing flows on."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in batch:
            result = fn(value, element_index=index) if wants_index else fn(value)
            if is_awaitable(result):
                await result
    except Exception as error:
        failure = call.fail(error, index, value)
        if failure is error:
            raise
        raise failure from error


async def concat_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """Pass every element on unchanged (the merging is done by the channel)."""
    for element in batch:
        if output.add(element):
            await output.flush()


ASYNC_KERNELS: Final[dict[str, AsyncKernel]] = {
    "map": map_kernel,
    "filter": filter_kernel,
    "flat_map": flat_map_kernel,
    "each": each_kernel,
    "concat": concat_kernel,
}
