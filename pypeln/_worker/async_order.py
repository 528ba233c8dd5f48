"""The async twins of ``order.py``'s kernels: a task worker's stages before a streaming
``ordered`` pass its markers on and add their own (``GONE``, ``Expanded``).

>>> import asyncio
>>> from pypeln._worker.hooks import Call
>>> from pypeln._worker.counters import WorkerCounters
>>> class Collect(list):
...     def add(self, element):
...         self.append(element)
...         return False
>>> async def halves(x):
...     return [x / 2] if x else []
>>> out = Collect()
>>> call = Call(halves, False, "flat_map(halves)", 0, WorkerCounters())
>>> asyncio.run(marked_flat_map_kernel(call, [((0,), 0), ((1,), 4)], out))
>>> out
[((0,), Expanded(count=0)), ((1, 0), 2.0), ((1,), Expanded(count=1))]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .async_kernels import ASYNC_KERNELS, AsyncKernel, Output, concat_kernel, is_awaitable
from .hooks import Call
from .kernels import SKIP, Element
from .order import GONE, MARKER_TYPES, Expanded, fail_labelled


async def marked_map_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """``map_kernel``, with ``GONE`` for an item skipped (timeout, error policy)."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in batch:
            if value.__class__ not in MARKER_TYPES:
                value = fn(value, element_index=index) if wants_index else fn(value)
                if is_awaitable(value):
                    value = await value
                if value is SKIP:
                    value = GONE
            if output.add((index, value)):
                await output.flush()
    except Exception as error:
        fail_labelled(call, error, index, value)


async def marked_filter_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """``filter_kernel``, with ``GONE`` for an item filtered out or skipped."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    counters = call.counters
    try:
        for index, value in batch:
            kept = value
            if value.__class__ not in MARKER_TYPES:
                keep = fn(value, element_index=index) if wants_index else fn(value)
                if is_awaitable(keep):
                    keep = await keep
                if keep is SKIP:
                    kept = GONE
                elif not keep:
                    counters.filtered_out += 1
                    kept = GONE
            if output.add((index, kept)):
                await output.flush()
    except Exception as error:
        fail_labelled(call, error, index, value)


async def marked_flat_map_kernel(call: Call, batch: Iterable[Element], output: Output) -> None:
    """``flat_map_kernel``, with ``Expanded(count)`` after an item's results (``GONE`` for
    an item skipped)."""
    fn, wants_index, index, value = call.fn, call.wants_index, None, None
    try:
        for index, value in batch:
            if value.__class__ in MARKER_TYPES:
                if output.add((index, value)):
                    await output.flush()
                continue
            results = fn(value, element_index=index) if wants_index else fn(value)
            if is_awaitable(results):
                results = await results
            if results is SKIP:
                if output.add((index, GONE)):
                    await output.flush()
                continue
            count = 0
            if hasattr(results, "__aiter__"):
                async for result in results:
                    if output.add(((*index, count), result)):
                        await output.flush()
                    count += 1
            else:
                for result in results:
                    if output.add(((*index, count), result)):
                        await output.flush()
                    count += 1
            if output.add((index, Expanded(count))):
                await output.flush()
    except Exception as error:  # also what iterating f's result raised
        fail_labelled(call, error, index, value)


ASYNC_MARKED_KERNELS: Final[dict[str, AsyncKernel]] = {
    "map": marked_map_kernel,
    "filter": marked_filter_kernel,
    "flat_map": marked_flat_map_kernel,
    "concat": concat_kernel,
}


def async_kernel_for(kind: str, *, marks: bool = False) -> AsyncKernel:
    """``order.kernel_for`` for a task worker (its streaming ``ordered`` is the worker's)."""
    return (ASYNC_MARKED_KERNELS if marks else ASYNC_KERNELS)[kind]
