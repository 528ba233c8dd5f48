"""What users would pick instead of pypeln, doing the same work as a scenario's pipeline.

Each peer is written the way its documentation presents it: ``multiprocessing.Pool.imap``
and ``.map``, ``ThreadPoolExecutor.map``, mpire's ``WorkerPool``, ``asyncio.gather`` (bare
or behind an ``asyncio.Semaphore``) and aiostream's ``stream.map``. Creating and closing a pool
or an event loop is inside every peer, as starting and stopping its workers is inside every
pypeln run. Optional peers (mpire, aiostream, numpy, Ray) are imported only when they run;
``missing`` says when one is not installed, so that the report can say so instead of failing.
The Ray peers are hand-written Ray actors, as Ray's documentation writes them: batches sent
to a chain of actors, the references of one call passed to the next, a few in flight
(``ray.wait``), the actors created and killed in every run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import multiprocessing
import os
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from multiprocessing import Pool
from typing import Any

from .measure import Outcome
from .workloads import (
    BatchStage,
    Relay,
    adouble,
    ainc,
    ais_even,
    anap,
    double,
    identity,
    inc,
    is_even,
    make_block,
    mark_even,
    nap,
    spin,
)

UVLOOP = "uvloop"
DEFAULT_LOOP = "asyncio"


def missing(module: str, extra: str = "bench") -> str | None:
    """Why the optional ``module`` cannot be used here, or None if it is installed.

    ``extra`` names pypeln's optional extra that installs it.
    """
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install -e '.[{extra}]')"
    return None


def in_fresh_loop(loop: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``main()`` run to completion in a new event loop of kind ``loop``, closed afterwards."""
    if loop == UVLOOP:
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


# -- per-item overhead: the trivial pipeline, stage by stage ----------------------------------


def generator_chain(n: int) -> list[int]:
    """The baseline: the three functions chained with plain generators, no concurrency."""
    incremented = (inc(x) for x in range(n))
    evens = (x for x in incremented if is_even(x))
    return [double(x) for x in evens]


async def _incremented(xs: Iterable[int]) -> AsyncIterator[int]:
    for x in xs:
        yield await ainc(x)


async def _evens(xs: AsyncIterable[int]) -> AsyncIterator[int]:
    async for x in xs:
        if await ais_even(x):
            yield x


async def _doubled(xs: AsyncIterable[int]) -> list[int]:
    return [await adouble(x) async for x in xs]


def async_generator_chain(n: int) -> list[int]:
    """The asyncio baseline: the async functions awaited by chained async generators."""
    return asyncio.run(_doubled(_evens(_incremented(range(n)))))


def pool_chain(n: int, chunksize: int) -> list[int]:
    """Three one-process Pools, each ``imap`` feeding the next.

    Pool has no filter, so the middle pool returns ``(keep, x)`` pairs and a generator in the
    parent drops the odd ones on their way into the third pool.
    """
    with Pool(1) as first, Pool(1) as second, Pool(1) as third:
        incremented = first.imap(inc, range(n), chunksize=chunksize)
        marked = second.imap(mark_even, incremented, chunksize=chunksize)
        evens = (x for keep, x in marked if keep)
        return list(third.imap(double, evens, chunksize=chunksize))


def executor_chain(n: int) -> list[int]:
    """Three one-thread executors, each ``map`` feeding the next, the filter as in ``pool_chain``.

    ``Executor.map`` submits its whole input before it returns, so each stage starts when the
    one before it has been read to the end: the stages do not overlap, as they do in a pipeline.
    """
    with (
        ThreadPoolExecutor(1) as first,
        ThreadPoolExecutor(1) as second,
        ThreadPoolExecutor(1) as third,
    ):
        marked = second.map(mark_even, first.map(inc, range(n)))
        return list(third.map(double, (x for keep, x in marked if keep)))


def mpire_pool_class() -> Any:
    """mpire's ``WorkerPool``, with tqdm's monitor thread turned off first.

    mpire makes a tqdm progress bar (disabled) for every map, and tqdm then starts a monitor
    thread that lives on: a second thread in this process, which would make pl.process's
    default start method ("auto": fork only when single-threaded) switch to forkserver for
    every scenario after the first mpire run. ``monitor_interval = 0`` is tqdm's switch for it.
    """
    import tqdm
    from mpire import WorkerPool

    tqdm.tqdm.monitor_interval = 0
    return WorkerPool


def mpire_chain(n: int, chunk_size: int) -> list[int]:
    """Three one-process mpire ``WorkerPool``s, each ``imap`` feeding the next.

    ``chunk_size`` is given because mpire needs it (or the input's length) for a generator.
    """
    WorkerPool = mpire_pool_class()
    with WorkerPool(1) as first, WorkerPool(1) as second, WorkerPool(1) as third:
        incremented = first.imap(inc, range(n), chunk_size=chunk_size)
        # mpire unpacks a tuple into arguments, so the middle stage's pairs go on as lists.
        marked = second.imap(mark_even_list, incremented, chunk_size=chunk_size)
        evens = (x for keep, x in marked if keep)
        return list(third.imap(double, evens, chunk_size=chunk_size))


def mark_even_list(x: int) -> list[Any]:
    keep, value = mark_even(x)
    return [keep, value]


# -- CPU-bound scaling ------------------------------------------------------------------------


def pool_spin(loops: int, items: int, workers: int, start_method: str | None = None) -> list[int]:
    """``Pool(workers).map``: its automatic chunks leave it almost no cost per item.

    ``start_method`` (None: multiprocessing's default) is for programs that must not fork
    themselves, such as one connected to Ray (its threads and signal handlers would be
    forked with it).
    """
    context = multiprocessing.get_context(start_method)
    with context.Pool(workers) as pool:
        return pool.map(partial(spin, loops), range(items))


def mpire_spin(loops: int, items: int, workers: int) -> list[int]:
    WorkerPool = mpire_pool_class()
    with WorkerPool(workers) as pool:
        return list(pool.map(partial(spin, loops), range(items)))


# -- I/O latency hiding -----------------------------------------------------------------------


def executor_naps(calls: int, workers: int) -> list[int]:
    with ThreadPoolExecutor(workers) as executor:
        return list(executor.map(nap, range(calls)))


async def gather_naps(calls: int) -> list[int]:
    """Every call at once, in one ``gather``: what an unbounded pipeline stage can approach."""
    return list(await asyncio.gather(*(anap(x) for x in range(calls))))


async def semaphore_naps(calls: int, limit: int) -> list[int]:
    """Every call in one ``gather``, at most ``limit`` at a time behind a Semaphore."""
    semaphore = asyncio.Semaphore(limit)

    async def bounded(x: int) -> int:
        async with semaphore:
            return await anap(x)

    return list(await asyncio.gather(*(bounded(x) for x in range(calls))))


async def worker_task_naps(calls: int, workers: int) -> list[int]:
    """``workers`` bare tasks taking the calls from one shared iterator."""
    pending = iter(range(calls))
    results: list[int] = []

    async def drain() -> None:
        for x in pending:
            results.append(await anap(x))

    await asyncio.gather(*(drain() for _ in range(workers)))
    return results


async def aiostream_naps(calls: int, limit: int | None) -> list[int]:
    """aiostream's ``stream.map`` with ``task_limit`` (None: no limit), unordered."""
    from aiostream import stream

    naps = stream.map(stream.iterate(range(calls)), anap, ordered=False, task_limit=limit)
    result: list[int] = await stream.list(naps)
    return result


# -- large payloads ---------------------------------------------------------------------------


def pool_identity_chain(items: list[Any], consume: Callable[[Iterable[Any]], Any]) -> Any:
    """Two one-process Pools chained, ``imap(identity, chunksize=1)``: a pickled path."""
    with Pool(1) as first, Pool(1) as second:
        return consume(second.imap(identity, first.imap(identity, items)))


def copyto(items: list[Any]) -> tuple[int, int, int]:
    """``np.copyto`` of each item into one buffer of its size: the memory speed in this run.

    Returns what the payload scenario's consumer returns, read from each copy.
    """
    import numpy as np

    target = np.empty_like(items[0])
    first = last = 0
    for item in items:
        np.copyto(target, item)
        first += int(target[0])
        last += int(target[-1])
    return len(items), first, last


# -- memory under a slow consumer -------------------------------------------------------------


def pool_imap_blocks(n: int, size: int, consume: Callable[[Iterable[bytes]], Any]) -> Any:
    """``Pool(1).imap`` of fresh blocks: its result handler reads them as fast as they come."""
    with Pool(1) as pool:
        return consume(pool.imap(partial(make_block, size), range(n)))


def executor_map_blocks(n: int, size: int, consume: Callable[[Iterable[bytes]], Any]) -> Any:
    """``ThreadPoolExecutor(1).map`` of fresh blocks: it runs ahead of its reader unbounded."""
    with ThreadPoolExecutor(1) as executor:
        return consume(executor.map(partial(make_block, size), range(n)))


# -- start-up and early exit ------------------------------------------------------------------
# Each returns the first result, the perf_counter time it arrived at, and what stops the rest.

EXECUTOR_INPUT = 10_000  # Executor.map reads its whole input first: it cannot take count()


def pool_first(workers: int) -> tuple[int, float, Callable[[], None]]:
    """``Pool(workers).imap`` over ``count()``; ``terminate()`` is the way out it documents."""
    pool = Pool(workers)
    results = pool.imap(inc, itertools.count())
    first = next(results)
    arrived = time.perf_counter()

    def stop() -> None:
        pool.terminate()
        pool.join()

    return first, arrived, stop


def executor_first(workers: int) -> tuple[int, float, Callable[[], None]]:
    """``ThreadPoolExecutor(workers).map`` over a finite input, then shutdown with cancel."""
    executor = ThreadPoolExecutor(workers)
    results = executor.map(inc, range(EXECUTOR_INPUT))
    first = next(results)
    arrived = time.perf_counter()
    return first, arrived, partial(executor.shutdown, wait=True, cancel_futures=True)


def aiostream_first(workers: int) -> tuple[int, float, Callable[[], None]]:
    """aiostream over ``stream.count()`` in ``asyncio.run``; leaving the stream cancels it."""
    from aiostream import stream

    async def main() -> tuple[int, float]:
        results = stream.map(stream.count(), ainc, ordered=False, task_limit=workers)
        async with results.stream() as streamer:
            async for first in streamer:
                return first, time.perf_counter()
        raise RuntimeError("stream.count() ended")

    first, arrived = asyncio.run(main())
    return first, arrived, lambda: None


# -- the Ray cluster backend ------------------------------------------------------------------
# The hand-written Ray programs that pl.ray's scenarios compare with. Each creates its actors,
# runs, and kills them, as a pl.ray run does; the cluster is the one this process joined.


def ray_module() -> Any:
    """Ray, imported the way pypeln's backend imports it: its processes bound to 127.0.0.1."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    return ray


@cache
def ray_actor(body: type) -> Any:
    """``body`` (a class of ``workloads``) as a Ray actor class, made once."""
    ray = ray_module()
    return ray.remote(body)


def in_flight(refs: Iterable[Any], limit: int) -> Iterator[Any]:
    """Each of ``refs`` once its call is done, at most ``limit`` calls submitted and not yet
    done (``ray.wait``), in the order they finish."""
    ray = ray_module()
    pending: list[Any] = []
    for ref in refs:
        pending.append(ref)
        if len(pending) >= limit:
            done, pending = ray.wait(pending, num_returns=1)
            yield done[0]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield done[0]


def ray_actor_chain(n: int, batch: int, limit: int) -> Outcome:
    """The trivial pipeline on three hand-written actors: batches of ``range(n)`` of ``batch``
    items, each call's reference passed to the next actor, ``limit`` batches in flight.

    Times itself: the whole run, and ``first`` (to the first results) and ``rest`` (after).
    """
    ray = ray_module()
    stage = ray_actor(BatchStage)
    begin = time.perf_counter()
    actors = [stage.remote(inc), stage.remote(is_even, True), stage.remote(double)]

    def calls() -> Iterator[Any]:
        for start in range(0, n, batch):
            ref = list(range(start, min(start + batch, n)))
            for actor in actors:
                ref = actor.run.remote(ref)
            yield ref

    output: list[int] = []
    first = None
    try:
        for ref in in_flight(calls(), limit):
            output.extend(ray.get(ref))
            first = first or time.perf_counter()
    finally:
        for actor in actors:
            ray.kill(actor)
    end = time.perf_counter()
    first = first or end
    return Outcome(output, end - begin, {"first": first - begin, "rest": end - first})


def ray_ref_chain(items: list[Any], limit: int, consume: Callable[[Iterable[Any]], Any]) -> Any:
    """Ray's own way through two actors: ``ray.put`` of each item, its reference to actor A,
    A's to actor B, B's read with ``ray.get``; ``limit`` items in flight."""
    ray = ray_module()
    relay = ray_actor(Relay)
    first, second = relay.remote(), relay.remote()

    def calls() -> Iterator[Any]:
        for item in items:
            yield second.run.remote(first.run.remote(ray.put(item)))

    try:
        return consume(ray.get(ref) for ref in in_flight(calls(), limit))
    finally:
        ray.kill(first)
        ray.kill(second)
